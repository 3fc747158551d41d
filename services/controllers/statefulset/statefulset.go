package statefulset

import (
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:statefulset"

var (
	setKind = reconcile.MustKind("apps", "statefulsets")
	revKind = reconcile.MustKind("apps", "controllerrevisions")
	podKind = reconcile.MustKind("", "pods")
	pvcKind = reconcile.MustKind("", "persistentvolumeclaims")
)

// Loop returns the controller's loop over log and view. Reconciling each
// again 30s after its last catches pods becoming available after
// minReadySeconds.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: Reconcile,
		Keys:         Keys,
		ResyncKeys:   reconcile.AllOf("apps", "statefulsets"),
		RequeueAfter: reconcile.Every(30*time.Second, nil),
	}
}

// Keys maps a change to its StatefulSet: the set itself, or the set
// controlling a pod or a ControllerRevision.
func Keys(ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	switch {
	case ref.Group == "apps" && ref.Resource == "statefulsets":
		return []events.Ref{ref}
	case (ref.Group == "" && ref.Resource == "pods") || (ref.Group == "apps" && ref.Resource == "controllerrevisions"):
		if c := reconcile.ControllerOf(ch.Object.Raw); c != nil && c.Kind == "StatefulSet" && c.APIVersion == "apps/v1" {
			return []events.Ref{{Group: "apps", Resource: "statefulsets", Namespace: ref.Namespace, Name: c.Name}}
		}
	}
	return nil
}

// Reconcile converges one StatefulSet.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var set appsv1.StatefulSet
	if err := reconcile.DecodeInto(o, &set); err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return nil, nil // admission rejects this; nothing sensible to do
	}
	pods, podObjs := reconcile.Owned[corev1.Pod](view, "", "pods", set.Namespace, set.UID, sel)
	history, revObjs := reconcile.Owned[appsv1.ControllerRevision](view, "apps", "controllerrevisions", set.Namespace, set.UID, labels.Everything())
	claimExists := func(name string) bool {
		_, ok := view.Get(events.Ref{Resource: "persistentvolumeclaims", Namespace: set.Namespace, Name: name})
		return ok
	}
	d := decide(&set, pods, history, claimExists, now)

	var out []reconcile.Append
	seed := "sts/" + string(set.UID) + "/" + strconv.FormatUint(view.Seq(), 10) + "/"
	add := func(a reconcile.Append, err error) error {
		if err == nil {
			out = append(out, a)
		}
		return err
	}
	if r := d.revs.create; r != nil {
		if err := add(reconcile.Create(revKind, r, now, seed+r.Name)); err != nil {
			return nil, err
		}
	}
	if r := d.revs.bump; r != nil {
		if err := add(reconcile.Update(revKind, r, revObjs[r.Name], events.ChangeSpec)); err != nil {
			return nil, err
		}
	}
	for _, r := range d.dropRevs {
		if err := add(reconcile.Delete(revKind, revObjs[r.Name], now)); err != nil {
			return nil, err
		}
	}
	for _, c := range d.claims {
		if err := add(reconcile.Create(pvcKind, c, now, seed+"pvc/"+c.Name)); err != nil {
			return nil, err
		}
	}
	for _, p := range d.create {
		if err := add(reconcile.Create(podKind, p, now, seed+p.Name)); err != nil {
			return nil, err
		}
	}
	for _, p := range d.delete {
		o := podObjs[p.Name]
		if o == nil {
			continue
		}
		a, err := reconcile.Delete(podKind, o, now)
		if err != nil {
			return nil, err
		}
		if !a.Empty() {
			out = append(out, a)
		}
	}
	if !equality.Semantic.DeepEqual(d.status, set.Status) {
		set.Status = d.status
		if err := add(reconcile.Update(setKind, &set, o, events.ChangeStatus)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func ownerRef(set *appsv1.StatefulSet) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: set.Name, UID: set.UID, Controller: &yes, BlockOwnerDeletion: &yes}
}
