package garbagecollector

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:garbage-collector"

// The finalizers of the deletion policies (set by the gateway).
const (
	FinalizerOrphan     = metav1.FinalizerOrphanDependents // "orphan"
	FinalizerForeground = metav1.FinalizerDeleteDependents // "foregroundDeletion"
)

// View is what Reconcile reads: the projection and the dependents index.
type View interface {
	reconcile.View
	Dependents(ownerUID string) []events.Ref
}

type graphView struct {
	reconcile.View
	*Graph
}

// Loop returns the collector's loop over log and view.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	g := NewGraph()
	gv := graphView{View: view, Graph: g}
	return &reconcile.Loop{
		Name: Name, Log: log, View: view,
		Reconcile: func(_ reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
			return Reconcile(gv, key, now)
		},
		Keys: func(ch projections.Change) []events.Ref {
			keys := Keys(g, ch)
			g.Observe(ch)
			return keys
		},
		ResyncKeys: func(v reconcile.View) []events.Ref {
			g.Rebuild(v)
			return ResyncKeys(v)
		},
		RequeueAfter: reconcile.Every(5*time.Minute, func(_ reconcile.View, o *projections.Object) bool { return collectable(o) }),
	}
}

// Keys maps a change to what it may unblock: the object itself (as a
// dependent and as an owner), the owners it names before and after, and,
// when it is deleted, its dependents (read from g before g observes the
// change).
func Keys(g *Graph, ch projections.Change) []events.Ref {
	keys := []events.Ref{ch.Object.Ref}
	for _, o := range []*projections.Object{ch.Prev, ch.Object} {
		if o == nil {
			continue
		}
		for _, r := range ownerRefsOf(o) {
			if ref, ok := ownerRef(o.Ref, r); ok && !slices.Contains(keys, ref) {
				keys = append(keys, ref)
			}
		}
	}
	if ch.Type == projections.Deleted {
		keys = append(keys, g.Dependents(ch.Object.UID)...)
	}
	return keys
}

// ResyncKeys are every object that has owners or is terminating.
func ResyncKeys(view reconcile.View) []events.Ref {
	var out []events.Ref
	for _, k := range kinds.All() {
		objs, _ := view.List(k.Group, k.Resource, "")
		for _, o := range objs {
			if collectable(o) {
				out = append(out, o.Ref)
			}
		}
	}
	return out
}

// collectable reports whether o has owners or is terminating: whether the
// collector may have something to decide for it.
func collectable(o *projections.Object) bool {
	m, err := objectMeta(o)
	return err == nil && (len(m.OwnerReferences) > 0 || m.DeletionTimestamp != nil)
}

// Reconcile decides for one object: as a terminating owner, it orphans or
// deletes its dependents and then releases its finalizer; as a dependent, it
// is deleted when no solid owner is left.
func Reconcile(view View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	m, err := objectMeta(o)
	if err != nil {
		return nil, err
	}
	if m.DeletionTimestamp != nil {
		switch {
		case slices.Contains(m.Finalizers, FinalizerOrphan):
			return orphanDependents(view, o, m)
		case slices.Contains(m.Finalizers, FinalizerForeground):
			return deleteDependents(view, o, m, now)
		}
		return nil, nil
	}
	a, err := attemptToDelete(view, o, m, now)
	if a == nil || err != nil {
		return nil, err
	}
	return []reconcile.Append{*a}, nil
}

// orphanDependents removes the owner's references from its dependents, and
// once none is left, the orphan finalizer. The two steps are separate
// rounds, so a dependent whose update conflicted is never left with a
// dangling reference the collector would then delete it for.
func orphanDependents(view View, o *projections.Object, m *metav1.ObjectMeta) ([]reconcile.Append, error) {
	var out []reconcile.Append
	for _, dep := range liveDependents(view, m.UID) {
		a, err := updateOwners(dep.obj, events.ChangeMetadata, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
			return slices.DeleteFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == m.UID })
		})
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if len(out) > 0 {
		return out, nil
	}
	return removeFinalizer(o, FinalizerOrphan)
}

// deleteDependents deletes the owner's dependents and removes the
// foreground finalizer once no blocking dependent remains.
func deleteDependents(view View, o *projections.Object, m *metav1.ObjectMeta, now time.Time) ([]reconcile.Append, error) {
	var out []reconcile.Append
	blocking := 0
	for _, dep := range liveDependents(view, m.UID) {
		if dep.ref.BlockOwnerDeletion != nil && *dep.ref.BlockOwnerDeletion {
			blocking++
		}
		a, err := attemptToDelete(view, dep.obj, dep.meta, now)
		if err != nil {
			return nil, err
		}
		if a != nil {
			out = append(out, *a)
		}
	}
	if blocking > 0 || len(out) > 0 {
		return out, nil
	}
	return removeFinalizer(o, FinalizerForeground)
}

// ownerState classifies one owner reference of a dependent.
type ownerState int

const (
	solid    ownerState = iota // present (or of a kind wake cannot see)
	dangling                   // no object with that uid
	waiting                    // present, deleting its dependents in foreground
)

func classify(view View, dep events.Ref, r metav1.OwnerReference) (ownerState, error) {
	ref, ok := ownerRef(dep, r)
	if !ok {
		return solid, nil
	}
	o, ok := view.Get(ref)
	if !ok || o.UID != string(r.UID) {
		return dangling, nil
	}
	m, err := objectMeta(o)
	if err != nil {
		return solid, err
	}
	if m.DeletionTimestamp != nil && slices.Contains(m.Finalizers, FinalizerForeground) {
		return waiting, nil
	}
	return solid, nil
}

// attemptToDelete decides for one dependent, as upstream's
// attemptToDeleteItem: nil when it stays as it is.
func attemptToDelete(view View, o *projections.Object, m *metav1.ObjectMeta, now time.Time) (*reconcile.Append, error) {
	if m.DeletionTimestamp != nil || len(m.OwnerReferences) == 0 {
		return nil, nil
	}
	var solids, danglings, waitings int
	states := make(map[metav1.OwnerReference]ownerState)
	for _, r := range m.OwnerReferences {
		s, err := classify(view, o.Ref, r)
		if err != nil {
			return nil, err
		}
		states[ownerKey(r)] = s
		switch s {
		case solid:
			solids++
		case dangling:
			danglings++
		case waiting:
			waitings++
		}
	}
	switch {
	case solids > 0:
		if danglings == 0 && !blocksWaiting(m.OwnerReferences, states) {
			return nil, nil
		}
		// Keep the object: drop dangling references, and stop blocking
		// owners that wait for their dependents.
		a, err := updateOwners(o, events.ChangeMetadata, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
			refs = slices.DeleteFunc(refs, func(r metav1.OwnerReference) bool { return states[ownerKey(r)] == dangling })
			for i := range refs {
				if states[ownerKey(refs[i])] == waiting {
					f := false
					refs[i].BlockOwnerDeletion = &f
				}
			}
			return refs
		})
		return &a, err
	case waitings > 0 && len(liveDependents(view, m.UID)) > 0:
		// Its own dependents must go first, and block its owner meanwhile.
		a, err := markDeleted(o, now, true)
		return &a, err
	default:
		a, err := markDeleted(o, now, false)
		return &a, err
	}
}

func blocksWaiting(refs []metav1.OwnerReference, states map[metav1.OwnerReference]ownerState) bool {
	for _, r := range refs {
		if states[ownerKey(r)] == waiting && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			return true
		}
	}
	return false
}

// ownerKey identifies a reference in the states map (without its pointers).
func ownerKey(r metav1.OwnerReference) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name, UID: r.UID}
}

type dependent struct {
	obj  *projections.Object
	meta *metav1.ObjectMeta
	ref  metav1.OwnerReference // its reference to the owner
}

// liveDependents are the graph's dependents of uid that the view confirms.
func liveDependents(view View, uid types.UID) []dependent {
	var out []dependent
	for _, ref := range view.Dependents(string(uid)) {
		o, ok := view.Get(ref)
		if !ok {
			continue
		}
		m, err := objectMeta(o)
		if err != nil {
			continue
		}
		for _, r := range m.OwnerReferences {
			if r.UID == uid {
				out = append(out, dependent{obj: o, meta: m, ref: r})
				break
			}
		}
	}
	return out
}

// ownerRef is the object an owner reference names, from a dependent ref.
// False when wake does not serve the kind, or when a cluster-scoped
// dependent names a namespaced owner (which cannot be resolved).
func ownerRef(dep events.Ref, r metav1.OwnerReference) (events.Ref, bool) {
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return events.Ref{}, false
	}
	k, ok := kindOf(gv.Group, r.Kind)
	if !ok || (k.Namespaced && dep.Namespace == "") {
		return events.Ref{}, false
	}
	ref := events.Ref{Group: k.Group, Resource: k.Resource, Name: r.Name}
	if k.Namespaced {
		ref.Namespace = dep.Namespace
	}
	return ref, true
}

var byGroupKind = func() map[schema.GroupKind]kinds.Kind {
	m := map[schema.GroupKind]kinds.Kind{}
	for _, k := range kinds.All() {
		m[schema.GroupKind{Group: k.Group, Kind: k.Kind}] = k
	}
	return m
}()

func kindOf(group, kind string) (kinds.Kind, bool) {
	k, ok := byGroupKind[schema.GroupKind{Group: group, Kind: kind}]
	return k, ok
}

func objectMeta(o *projections.Object) (*metav1.ObjectMeta, error) {
	var m struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := reconcile.DecodeInto(o, &m); err != nil {
		return nil, err
	}
	return &m.Metadata, nil
}

func decode(o *projections.Object) (kinds.Kind, runtime.Object, metav1.Object, error) {
	k, ok := kinds.ByResource(o.Ref.Group, o.Ref.Resource)
	if !ok {
		return k, nil, nil, fmt.Errorf("%s: unknown resource", o.Ref)
	}
	obj, err := reconcile.Decode(k, o)
	if err != nil {
		return k, nil, nil, err
	}
	m, err := meta.Accessor(obj)
	return k, obj, m, err
}

// updateOwners rewrites an object's owner references.
func updateOwners(o *projections.Object, change events.Change, edit func([]metav1.OwnerReference) []metav1.OwnerReference) (reconcile.Append, error) {
	k, obj, m, err := decode(o)
	if err != nil {
		return reconcile.Append{}, err
	}
	m.SetOwnerReferences(edit(m.GetOwnerReferences()))
	return reconcile.Update(k, obj, o, change)
}

// removeFinalizer removes one finalizer; when that was the last one of an
// object being deleted, the object goes (ObjectDeleted).
func removeFinalizer(o *projections.Object, f string) ([]reconcile.Append, error) {
	k, obj, m, err := decode(o)
	if err != nil {
		return nil, err
	}
	m.SetFinalizers(slices.DeleteFunc(m.GetFinalizers(), func(x string) bool { return x == f }))
	a, err := finish(k, obj, o, m)
	if err != nil {
		return nil, err
	}
	return []reconcile.Append{a}, nil
}

// finish is the metadata update of obj, or its deletion when it is
// terminating and nothing holds it any more.
func finish(k kinds.Kind, obj runtime.Object, cur *projections.Object, m metav1.Object) (reconcile.Append, error) {
	a, err := reconcile.Update(k, obj, cur, events.ChangeMetadata)
	if err == nil && m.GetDeletionTimestamp() != nil && len(m.GetFinalizers()) == 0 && !heldByNode(obj) {
		a.Event.Type, a.Event.Change = events.ObjectDeleted, ""
	}
	return a, err
}

// markDeleted deletes a dependent: in foreground (with the finalizer, so
// its own dependents go first), or as the gateway deletes it. A pod running
// on a node gets its grace period and is finished by its node.
func markDeleted(o *projections.Object, now time.Time, foreground bool) (reconcile.Append, error) {
	k, obj, m, err := decode(o)
	if err != nil {
		return reconcile.Append{}, err
	}
	if !foreground && !heldByNode(obj) {
		return reconcile.Delete(k, o, now)
	}
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	grace := int64(0)
	if foreground {
		if !slices.Contains(m.GetFinalizers(), FinalizerForeground) {
			m.SetFinalizers(append(m.GetFinalizers(), FinalizerForeground))
		}
	} else {
		grace = gracePeriod(obj.(*corev1.Pod))
		ts = metav1.NewTime(ts.Add(time.Duration(grace) * time.Second))
	}
	m.SetDeletionTimestamp(&ts)
	m.SetDeletionGracePeriodSeconds(&grace)
	return reconcile.Update(k, obj, o, events.ChangeDeletion)
}

// heldByNode reports a pod that runs on a node: its node finishes it.
func heldByNode(obj runtime.Object) bool {
	pod, ok := obj.(*corev1.Pod)
	return ok && pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

func gracePeriod(pod *corev1.Pod) int64 {
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}
