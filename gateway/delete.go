package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

func (s *Server) delete(w http.ResponseWriter, r *http.Request, t target) error {
	if t.subresource != "" {
		return methodNotAllowed(r, t)
	}
	o, gone, err := s.deleteOne(r, t, optionsOf(r.Context()).delete)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if !gone {
		code = http.StatusAccepted
	}
	return s.writeObject(w, r, t.kind, code, o.Raw)
}

// deleteOne deletes an object: at once, or by marking it with a deletion
// timestamp when finalizers or a grace period must run first. It reports
// whether the object is gone.
func (s *Server) deleteOne(r *http.Request, t target, opts metav1.DeleteOptions) (*projections.Object, bool, error) {
	gone := false
	o, err := s.updateObject(r, t, 0, true, func(cur runtime.Object) (runtime.Object, error) {
		m := accessor(cur)
		if p := opts.Preconditions; p != nil {
			if p.UID != nil && *p.UID != m.GetUID() {
				return nil, apierrors.NewConflict(t.gr(), t.name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
				return nil, apierrors.NewConflict(t.gr(), t.name, fmt.Errorf("precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
			}
		}
		grace, _ := s.admission.GracePeriod(cur, opts.GracePeriodSeconds)
		if m.GetDeletionTimestamp() != nil {
			if grace == 0 && !s.admission.Held(cur) {
				gone = true
			}
			return cur, nil
		}
		now := metav1.NewTime(s.now().UTC().Truncate(time.Second))
		if grace > 0 {
			at := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
			now = at
		}
		m.SetDeletionTimestamp(&now)
		m.SetDeletionGracePeriodSeconds(&grace)
		if f := propagationFinalizer(opts); f != "" && !slices.Contains(m.GetFinalizers(), f) {
			// The garbage collector orphans or deletes the dependents first,
			// then removes this finalizer.
			m.SetFinalizers(append(m.GetFinalizers(), f))
		}
		if ns, ok := cur.(*corev1.Namespace); ok {
			ns.Status.Phase = corev1.NamespaceTerminating
		}
		gone = grace == 0 && !s.admission.Held(cur)
		return cur, nil
	})
	if err != nil {
		return nil, false, err
	}
	if gone && o.Seq != 0 {
		// Already marked and now due: record the deletion itself.
		if cur, ok := s.proj.Get(t.ref()); ok && cur.Seq == o.Seq {
			typed, err := decodeRaw(cur.Raw, t.kind)
			if err != nil {
				return nil, false, err
			}
			o, err = s.withAllocation(r.Context(), typed, typed, true, func() (*projections.Object, error) {
				return s.commit(r.Context(), t, events.ObjectDeleted, events.ChangeDeletion, typed, cur.Seq)
			})
			if err != nil {
				return nil, false, err
			}
		}
	}
	return o, gone, nil
}

// propagationFinalizer is the finalizer that asks the garbage collector to
// handle dependents before the owner goes: none for background deletion.
func propagationFinalizer(opts metav1.DeleteOptions) string {
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationOrphan:
			return metav1.FinalizerOrphanDependents
		case metav1.DeletePropagationForeground:
			return metav1.FinalizerDeleteDependents
		}
	} else if opts.OrphanDependents != nil && *opts.OrphanDependents {
		return metav1.FinalizerOrphanDependents
	}
	return ""
}

func (s *Server) deleteCollection(w http.ResponseWriter, r *http.Request, t target) error {
	f, err := parseFilter(r.URL.Query(), t.kind)
	if err != nil {
		return err
	}
	opts := optionsOf(r.Context()).delete
	if err := s.consistent(r.Context()); err != nil {
		return err
	}
	objs, _ := s.selected(t, f)
	var deleted []*projections.Object
	for _, o := range objs {
		one := t
		one.namespace, one.name = o.Ref.Namespace, o.Ref.Name
		d, _, err := s.deleteOne(r, one, opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		deleted = append(deleted, d)
	}
	writeBody(w, parseAccept(r), http.StatusOK, encodeList(t.kind, strconv.FormatUint(s.proj.Seq(), 10), deleted))
	return nil
}
