package replicaset

import (
	"encoding/json"
	"reflect"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// A ReplicaSet whose ready pods wait out minReadySeconds is reconciled
// again every availabilityPoll (only time makes them available), and
// every ReplicaSet every fullResync.
const (
	availabilityPoll = time.Second
	fullResync       = 5 * time.Minute
)

// Loop returns the controller's loop over log and view.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: Reconcile,
		Keys:       func(ch projections.Change) []events.Ref { return Keys(view, ch) },
		ResyncKeys: reconcile.AllOf("apps", "replicasets"),
		RequeueAfter: reconcile.Sooner(
			reconcile.Every(availabilityPoll, func(_ reconcile.View, o *projections.Object) bool {
				var rs appsv1.ReplicaSet
				return reconcile.DecodeInto(o, &rs) == nil && waitsForAvailability(&rs)
			}),
			reconcile.Every(fullResync, nil)),
	}
}

// Keys maps a change to the ReplicaSets it concerns: a ReplicaSet itself;
// for a pod, its controlling ReplicaSet before and after, and while it is
// an orphan, the ReplicaSets whose selector matches it. A pod update that
// leaves alone everything a ReplicaSet counts (see podFacts) concerns none:
// a binding, for one, which would otherwise make a scale-up reconcile its
// ReplicaSet once more for every pod it places.
func Keys(view reconcile.View, ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	switch {
	case ref.Group == "apps" && ref.Resource == "replicasets":
		return []events.Ref{ref}
	case ref.Group != "" || ref.Resource != "pods":
		return nil
	}
	cur := factsOf(ch.Object.Raw)
	var prev *podFacts
	if ch.Prev != nil {
		prev = factsOf(ch.Prev.Raw)
		if ch.Type == projections.Modified && reflect.DeepEqual(cur, prev) {
			return nil
		}
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
	for _, f := range []*podFacts{prev, cur} {
		if f == nil {
			continue
		}
		if c := controllerOf(f.Metadata.OwnerReferences); c != nil && c.Kind == "ReplicaSet" {
			add(events.Ref{Group: "apps", Resource: "replicasets", Namespace: ref.Namespace, Name: c.Name})
		}
	}
	if controllerOf(cur.Metadata.OwnerReferences) == nil && ch.Type != projections.Deleted && len(ch.Object.Labels) > 0 {
		for _, r := range reconcile.Selecting(view, "apps", "replicasets", ref.Namespace, ch.Object.Labels) {
			add(r)
		}
	}
	return out
}

// podFacts are the parts of a pod that Reconcile counts or claims by:
// labels, owners, deletion, phase and the Ready condition. (Which node a
// pod is on only ranks pods for deletion, read when a reconcile happens.)
type podFacts struct {
	Metadata struct {
		Labels            map[string]string       `json:"labels"`
		OwnerReferences   []metav1.OwnerReference `json:"ownerReferences"`
		DeletionTimestamp *metav1.Time            `json:"deletionTimestamp"`
	} `json:"metadata"`
	Status struct {
		Phase      corev1.PodPhase       `json:"phase"`
		Conditions []corev1.PodCondition `json:"conditions"`
	} `json:"status"`
}

func factsOf(raw []byte) *podFacts {
	var f podFacts
	_ = json.Unmarshal(raw, &f)
	// Only the Ready condition counts.
	f.Status.Conditions = slices.DeleteFunc(f.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type != corev1.PodReady })
	if len(f.Status.Conditions) == 0 {
		f.Status.Conditions = nil
	}
	for i := range f.Status.Conditions {
		f.Status.Conditions[i].LastProbeTime = metav1.Time{}
	}
	return &f
}

// waitsForAvailability reports whether some ready pods of rs are not yet
// available: only time will change that.
func waitsForAvailability(rs *appsv1.ReplicaSet) bool {
	return rs.Spec.MinReadySeconds > 0 && rs.Status.ReadyReplicas > rs.Status.AvailableReplicas
}
