package replicaset

import (
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// The loop polls for time-dependent work every resyncTick (ReplicaSets
// whose ready pods wait out minReadySeconds) and reconciles every
// ReplicaSet every fullResync. reconcile.Loop has no per-key "again after
// d", which would make the poll unnecessary.
const (
	resyncTick = time.Second
	fullResync = 5 * time.Minute
)

// Loop returns the controller's loop over log and view.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	r := &resyncer{}
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: Reconcile,
		Keys:       func(ch projections.Change) []events.Ref { return Keys(view, ch) },
		Resync:     resyncTick,
		ResyncKeys: r.keys,
	}
}

// Keys maps a change to the ReplicaSets it concerns: a ReplicaSet itself;
// for a pod, its controlling ReplicaSet before and after, and while it is
// an orphan, the ReplicaSets whose selector matches it.
func Keys(view reconcile.View, ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	switch {
	case ref.Group == "apps" && ref.Resource == "replicasets":
		return []events.Ref{ref}
	case ref.Group != "" || ref.Resource != "pods":
		return nil
	}
	var out []events.Ref
	add := func(r events.Ref) {
		for _, x := range out {
			if x == r {
				return
			}
		}
		out = append(out, r)
	}
	owner := controllerOf(ownerRefs(ch.Object.Raw))
	for _, o := range []*projections.Object{ch.Prev, ch.Object} {
		if o == nil {
			continue
		}
		if c := controllerOf(ownerRefs(o.Raw)); c != nil && c.Kind == "ReplicaSet" {
			add(events.Ref{Group: "apps", Resource: "replicasets", Namespace: ref.Namespace, Name: c.Name})
		}
	}
	if owner == nil && ch.Type != projections.Deleted && len(ch.Object.Labels) > 0 {
		for _, r := range matchingReplicaSets(view, ref.Namespace, ch.Object.Labels) {
			add(r)
		}
	}
	return out
}

// matchingReplicaSets are the ReplicaSets of a namespace whose selector
// matches a set of labels.
func matchingReplicaSets(view reconcile.View, namespace string, set map[string]string) []events.Ref {
	objs, _ := view.List("apps", "replicasets", namespace)
	var out []events.Ref
	for _, o := range objs {
		var rs struct {
			Spec struct {
				Selector *metav1.LabelSelector `json:"selector"`
			} `json:"spec"`
		}
		if reconcile.DecodeInto(o, &rs) != nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(set)) {
			out = append(out, o.Ref)
		}
	}
	return out
}

// resyncer chooses the keys of a resync: all ReplicaSets on the first call
// and every fullResync, else those waiting for pods to become available.
type resyncer struct {
	mu   sync.Mutex
	last time.Time
}

func (r *resyncer) keys(view reconcile.View) []events.Ref {
	r.mu.Lock()
	full := r.last.IsZero() || time.Since(r.last) >= fullResync
	if full {
		r.last = time.Now()
	}
	r.mu.Unlock()
	objs, _ := view.List("apps", "replicasets", "")
	var out []events.Ref
	for _, o := range objs {
		if full {
			out = append(out, o.Ref)
			continue
		}
		var rs appsv1.ReplicaSet
		if reconcile.DecodeInto(o, &rs) == nil && waitsForAvailability(&rs) {
			out = append(out, o.Ref)
		}
	}
	return out
}

// waitsForAvailability reports whether some ready pods of rs are not yet
// available: only time will change that.
func waitsForAvailability(rs *appsv1.ReplicaSet) bool {
	return rs.Spec.MinReadySeconds > 0 && rs.Status.ReadyReplicas > rs.Status.AvailableReplicas
}
