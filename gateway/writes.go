package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"

	"github.com/google/uuid"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/internal/admission"
	"github.com/wakehq/wake/projections"
)

// maxRetries bounds how often a write that carried no resourceVersion of its
// own is retried after losing a race to another writer.
const maxRetries = 8

// commit appends the event that records obj and waits until the projection
// has applied it. It returns the object as written.
func (s *Server) commit(ctx context.Context, t target, typ events.Type, change events.Change, obj runtime.Object, expect uint64) (*projections.Object, error) {
	data, err := encodeObject(obj, t.kind)
	if err != nil {
		return nil, err
	}
	if typ != events.ObjectUpdated {
		change = "" // creations and deletions say what they are by their type
	}
	ev, err := s.writer(ctx).Append(ctx, events.Event{
		Type: typ, Ref: t.ref(), APIVersion: t.kind.APIVersion(), Kind: t.kind.Kind,
		Change: change, Data: data,
	}, expect)
	if err != nil {
		return nil, err
	}
	return projections.BuildObject(ev)
}

// writer writes as the caller of ctx (its user is the actor, its request
// the request id) and waits until the projection has applied each write,
// so that the next read serves it.
func (s *Server) writer(ctx context.Context) events.Writer {
	return events.Writer{
		Log: s.log, Source: s.source, Actor: userFrom(ctx).Name, RequestID: requestID(ctx),
		Now: s.now, Applied: s.proj,
	}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, t target) error {
	obj, warnings, err := s.decodeBody(w, r, t)
	if err != nil {
		return err
	}
	if err := checkNamespace(t, accessor(obj)); err != nil {
		return err
	}
	o, err := s.createObject(r.Context(), t, obj, isDryRun(r))
	if err != nil {
		return err
	}
	writeWarnings(w, warnings)
	return s.writeObject(w, r, t.kind, http.StatusCreated, o.Raw)
}

// createObject admits a new object and appends its creation. t names the
// collection; the name comes from the object (or its generateName).
func (s *Server) createObject(ctx context.Context, t target, obj runtime.Object, dryRun bool) (*projections.Object, error) {
	m := accessor(obj)
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + utilrand.String(5))
	}
	t.name = m.GetName()
	if t.kind.Namespaced {
		if err := s.namespaceOpen(t.namespace); err != nil {
			return nil, err
		}
	}
	m.SetNamespace(t.namespace)
	prep := admission.Create{Kind: t.kind, UID: types.UID(uuid.NewString()), Now: s.now()}
	if err := s.admission.AdmitCreate(t.kind, obj, prep); err != nil {
		return nil, err
	}
	if _, exists := s.proj.Get(t.ref()); exists {
		return nil, apierrors.NewAlreadyExists(t.gr(), t.name)
	}
	if dryRun {
		return dryRunObject(t, obj)
	}
	expect, err := s.expectAbsent(ctx, t)
	if err != nil {
		return nil, err
	}
	o, err := s.withAllocation(ctx, nil, obj, false, func() (*projections.Object, error) {
		return s.commit(ctx, t, events.ObjectCreated, events.ChangeSpec, obj, expect)
	})
	if errors.Is(err, events.ErrConflict) {
		return nil, apierrors.NewAlreadyExists(t.gr(), t.name)
	}
	return o, err
}

// expectAbsent is the subject sequence a create must expect: 0 for a name
// never used, or the sequence of the deletion that ended its last object.
func (s *Server) expectAbsent(ctx context.Context, t target) (uint64, error) {
	last, err := s.log.Last(ctx, t.ref())
	if errors.Is(err, events.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if last.Type != events.ObjectDeleted {
		return 0, apierrors.NewAlreadyExists(t.gr(), t.name)
	}
	return last.Seq, nil
}

// checkNamespace reconciles the namespace in the body with the URL's.
func checkNamespace(t target, m metav1.Object) error {
	ns := m.GetNamespace()
	switch {
	case !t.kind.Namespaced && ns != "":
		return apierrors.NewBadRequest(fmt.Sprintf("%s is cluster-scoped: metadata.namespace must be empty, not %q", t.kind.Kind, ns))
	case t.kind.Namespaced && ns != "" && ns != t.namespace:
		return apierrors.NewBadRequest(fmt.Sprintf("the namespace of the provided object (%s) does not match the namespace sent on the request (%s)", ns, t.namespace))
	}
	return nil
}

// namespaceOpen refuses writes into a namespace that is missing or being
// deleted, as kube-apiserver's NamespaceLifecycle admission does.
func (s *Server) namespaceOpen(ns string) error {
	o, ok := s.proj.Get(events.Ref{Resource: "namespaces", Name: ns})
	if !ok {
		return apierrors.NewNotFound(namespaceKind.GVR().GroupResource(), ns)
	}
	obj, err := decodeRaw(o.Raw, namespaceKind)
	if err != nil {
		return err
	}
	if accessor(obj).GetDeletionTimestamp() != nil {
		return apierrors.NewForbidden(namespaceKind.GVR().GroupResource(), ns,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	}
	return nil
}

func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, t target) (runtime.Object, []string, error) {
	body, err := readBody(w, r)
	if err != nil {
		return nil, nil, err
	}
	data, err := bodyJSON(r, body, bodyTypes...)
	if err != nil {
		return nil, nil, err
	}
	return decodeObject(data, t.kind, optionsOf(r.Context()).fieldValidation)
}

// replace is PUT: the body replaces the object.
func (s *Server) replace(w http.ResponseWriter, r *http.Request, t target) error {
	if t.subresource == "scale" {
		return s.replaceScale(w, r, t)
	}
	obj, warnings, err := s.decodeBody(w, r, t)
	if err != nil {
		return err
	}
	m := accessor(obj)
	if m.GetName() != t.name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), t.name))
	}
	if err := checkNamespace(t, m); err != nil {
		return err
	}
	var precondition uint64
	if rv := m.GetResourceVersion(); rv != "" {
		if precondition, err = strconv.ParseUint(rv, 10, 64); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", rv))
		}
	}
	o, err := s.update(r, t, precondition, func(cur runtime.Object) (runtime.Object, error) {
		// A uid in the body is a precondition, as in kube-apiserver.
		if uid := m.GetUID(); uid != "" && uid != accessor(cur).GetUID() {
			return nil, apierrors.NewConflict(t.gr(), t.name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, accessor(cur).GetUID()))
		}
		return obj.DeepCopyObject(), nil
	})
	if err != nil {
		return err
	}
	writeWarnings(w, warnings)
	return s.writeObject(w, r, t.kind, http.StatusOK, o.Raw)
}

// update reads the current object, lets mutate produce the new one, and
// commits it expecting the version read. With a precondition the write fails
// on a conflict; without, it retries from the newer version.
func (s *Server) update(r *http.Request, t target, precondition uint64, mutate func(cur runtime.Object) (runtime.Object, error)) (*projections.Object, error) {
	return s.updateObject(r, t, precondition, false, mutate)
}

// updateObject is update; deleting says the mutation may set the deletion
// timestamp, which no other update can.
func (s *Server) updateObject(r *http.Request, t target, precondition uint64, deleting bool, mutate func(cur runtime.Object) (runtime.Object, error)) (*projections.Object, error) {
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		o, err := s.current(t)
		if err != nil {
			return nil, err
		}
		if precondition != 0 && precondition != o.Seq {
			return nil, apierrors.NewConflict(t.gr(), t.name, errors.New(conflictMessage))
		}
		cur, err := decodeRaw(o.Raw, t.kind)
		if err != nil {
			return nil, err
		}
		next, err := mutate(cur.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		if isDryRun(r) {
			return dryRunObject(t, next)
		}
		res, err := s.commitUpdate(ctx, t, cur, next, o.Seq, deleting)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, events.ErrConflict) || precondition != 0 || attempt == maxRetries {
			return nil, err
		}
		// Another writer won: catch up with it, then try again.
		if err := s.consistent(ctx); err != nil {
			return nil, err
		}
	}
}

// commitUpdate turns next into the object's new version: it keeps what the
// server owns, applies the subresource rule, validates, and appends. An
// update that changes nothing appends nothing.
func (s *Server) commitUpdate(ctx context.Context, t target, cur, next runtime.Object, seq uint64, deleting bool) (*projections.Object, error) {
	change, err := s.prepareUpdate(t, cur, next, deleting)
	if err != nil {
		return nil, err
	}
	keepAllocated(cur, next)
	s.admission.Default(next)
	if errs := s.admission.ValidateUpdate(next, cur); len(errs) > 0 {
		return nil, apierrors.NewInvalid(t.kind.GVK().GroupKind(), t.name, errs)
	}
	if reflect.DeepEqual(cur, next) {
		o, err := s.current(t)
		return o, err
	}
	typ := events.ObjectUpdated
	if accessor(next).GetDeletionTimestamp() != nil && !s.admission.Held(next) {
		typ, change = events.ObjectDeleted, events.ChangeDeletion
	}
	return s.withAllocation(ctx, cur, next, typ == events.ObjectDeleted, func() (*projections.Object, error) {
		return s.commit(ctx, t, typ, change, next, seq)
	})
}

// prepareUpdate carries the server-owned fields of cur into next and says
// what kind of change the update is.
func (s *Server) prepareUpdate(t target, cur, next runtime.Object, deleting bool) (events.Change, error) {
	cm, nm := accessor(cur), accessor(next)
	nm.SetNamespace(cm.GetNamespace())
	nm.SetUID(cm.GetUID())
	nm.SetCreationTimestamp(cm.GetCreationTimestamp())
	nm.SetResourceVersion(cm.GetResourceVersion())
	nm.SetManagedFields(nil)
	nm.SetSelfLink("")
	if !deleting {
		// Only deletion sets the deletion timestamp; no update clears it.
		nm.SetDeletionTimestamp(cm.GetDeletionTimestamp())
		nm.SetDeletionGracePeriodSeconds(cm.GetDeletionGracePeriodSeconds())
	}
	nm.SetGeneration(cm.GetGeneration())
	change := events.ChangeSpec
	switch t.subresource {
	case "status":
		if err := keepAllButStatus(cur, next); err != nil {
			return "", err
		}
		return events.ChangeStatus, nil
	case "scale":
		change = events.ChangeScale
	}
	if t.kind.Status {
		if err := copyStatus(cur, next); err != nil {
			return "", err
		}
	}
	specChanged, err := specDiffers(cur, next)
	if err != nil {
		return "", err
	}
	if specChanged {
		nm.SetGeneration(cm.GetGeneration() + 1)
	} else if change == events.ChangeSpec {
		change = events.ChangeMetadata
	}
	if cm.GetDeletionTimestamp() != nil && !slices.Equal(cm.GetFinalizers(), nm.GetFinalizers()) ||
		cm.GetDeletionTimestamp() == nil && nm.GetDeletionTimestamp() != nil {
		change = events.ChangeDeletion
	}
	return change, nil
}

// isDryRun reports whether the request asked for a dry run (options.go
// read it from the query or the DeleteOptions body).
func isDryRun(r *http.Request) bool { return optionsOf(r.Context()).dryRun }

func dryRunObject(t target, obj runtime.Object) (*projections.Object, error) {
	raw, err := encodeObject(obj, t.kind)
	if err != nil {
		return nil, err
	}
	return &projections.Object{Ref: t.ref(), Raw: raw}, nil
}

// invalid builds a 422 for one field error.
func invalid(t target, err *field.Error) error {
	return apierrors.NewInvalid(t.kind.GVK().GroupKind(), t.name, field.ErrorList{err})
}
