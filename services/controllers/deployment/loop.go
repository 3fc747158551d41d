package deployment

import (
	"encoding/json"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// fullResync reconciles every Deployment again at this period.
const fullResync = 5 * time.Minute

// Loop returns the controller's loop over log and view.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: Reconcile,
		Keys:         func(ch projections.Change) []events.Ref { return Keys(view, ch) },
		ResyncKeys:   reconcile.AllOf("apps", "deployments"),
		RequeueAfter: reconcile.Sooner(RequeueAfter, reconcile.Every(fullResync, nil)),
	}
}

// RequeueAfter is how long until a Deployment's progress deadline expires,
// while it is running: only time can expire it.
func RequeueAfter(view reconcile.View, key events.Ref, now time.Time) time.Duration {
	o, ok := view.Get(key)
	var d appsv1.Deployment
	if !ok || reconcile.DecodeInto(o, &d) != nil || !deadlineRunning(&d) {
		return 0
	}
	c := getCondition(d.Status, appsv1.DeploymentProgressing)
	return reconcile.Until(now, c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds)*time.Second))
}

// Keys maps a change to the Deployments it concerns: a Deployment itself;
// a ReplicaSet's controlling Deployment (before and after), or while it is
// an orphan the Deployments whose selector matches it; and for a pod that
// is gone or finished, the Deployment of its ReplicaSet (Recreate waits
// for old pods).
func Keys(view reconcile.View, ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	var out []events.Ref
	add := func(r events.Ref) {
		for _, x := range out {
			if x == r {
				return
			}
		}
		out = append(out, r)
	}
	owner := func(o *projections.Object, kind string) *metav1.OwnerReference {
		if o == nil {
			return nil
		}
		var m struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if json.Unmarshal(o.Raw, &m) != nil {
			return nil
		}
		if c := metav1.GetControllerOfNoCopy(&m.Metadata); c != nil && c.Kind == kind {
			return c
		}
		return nil
	}
	deployment := func(name string) events.Ref {
		return events.Ref{Group: "apps", Resource: "deployments", Namespace: ref.Namespace, Name: name}
	}
	switch {
	case ref.Group == "apps" && ref.Resource == "deployments":
		add(ref)
	case ref.Group == "apps" && ref.Resource == "replicasets":
		for _, o := range []*projections.Object{ch.Prev, ch.Object} {
			if c := owner(o, "Deployment"); c != nil {
				add(deployment(c.Name))
			}
		}
		if owner(ch.Object, "Deployment") == nil && ch.Type != projections.Deleted {
			for _, r := range reconcile.Selecting(view, "apps", "deployments", ref.Namespace, ch.Object.Labels) {
				add(r)
			}
		}
	case ref.Group == "" && ref.Resource == "pods":
		if ch.Type != projections.Deleted && !finished(ch.Object) {
			return nil
		}
		if c := owner(ch.Object, "ReplicaSet"); c != nil {
			if rs, ok := view.Get(events.Ref{Group: "apps", Resource: "replicasets", Namespace: ref.Namespace, Name: c.Name}); ok {
				if d := owner(rs, "Deployment"); d != nil {
					add(deployment(d.Name))
				}
			}
		}
	}
	return out
}

func finished(o *projections.Object) bool {
	var p struct {
		Status struct {
			Phase string `json:"phase"`
		} `json:"status"`
	}
	_ = json.Unmarshal(o.Raw, &p)
	return p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed"
}

// deadlineRunning reports whether a Deployment's rollout is being timed.
func deadlineRunning(d *appsv1.Deployment) bool {
	if d.Spec.Paused || !hasProgressDeadline(d) {
		return false
	}
	c := getCondition(d.Status, appsv1.DeploymentProgressing)
	return c != nil && c.Reason != NewRSAvailableReason && c.Reason != TimedOutReason && c.Reason != PausedDeployReason
}
