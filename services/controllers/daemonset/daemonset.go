package daemonset

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
const Name = "system:controller:daemonset"

var (
	dsKind  = reconcile.MustKind("apps", "daemonsets")
	revKind = reconcile.MustKind("apps", "controllerrevisions")
	podKind = reconcile.MustKind("", "pods")
)

// Loop returns the controller's loop over log and view. Reconciling each
// again 30s after its last catches pods becoming available after
// minReadySeconds.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: Reconcile,
		Keys:         func(ch projections.Change) []events.Ref { return Keys(view, ch) },
		ResyncKeys:   allKeys,
		RequeueAfter: reconcile.Every(30*time.Second, nil),
	}
}

func allKeys(v reconcile.View) []events.Ref {
	objs, _ := v.List("apps", "daemonsets", "")
	refs := make([]events.Ref, len(objs))
	for i, o := range objs {
		refs[i] = o.Ref
	}
	return refs
}

// Keys maps a change to the DaemonSets it concerns: the DaemonSet itself,
// the one controlling a pod or revision, or every DaemonSet for a node.
func Keys(view reconcile.View, ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	switch {
	case ref.Group == "apps" && ref.Resource == "daemonsets":
		return []events.Ref{ref}
	case ref.Group == "" && ref.Resource == "nodes":
		return allKeys(view)
	case (ref.Group == "" && ref.Resource == "pods") || (ref.Group == "apps" && ref.Resource == "controllerrevisions"):
		if c := reconcile.ControllerOf(ch.Object.Raw); c != nil && c.Kind == "DaemonSet" && c.APIVersion == "apps/v1" {
			return []events.Ref{{Group: "apps", Resource: "daemonsets", Namespace: ref.Namespace, Name: c.Name}}
		}
	}
	return nil
}

// Reconcile converges one DaemonSet.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var ds appsv1.DaemonSet
	if err := reconcile.DecodeInto(o, &ds); err != nil {
		return nil, err
	}
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, nil // admission rejects this
	}
	nodeObjs, _ := view.List("", "nodes", "")
	nodes := make([]*corev1.Node, 0, len(nodeObjs))
	for _, no := range nodeObjs {
		var n corev1.Node
		if reconcile.DecodeInto(no, &n) == nil {
			nodes = append(nodes, &n)
		}
	}
	pods, podObjs := reconcile.Owned[corev1.Pod](view, "", "pods", ds.Namespace, ds.UID, sel)
	history, revObjs := reconcile.Owned[appsv1.ControllerRevision](view, "apps", "controllerrevisions", ds.Namespace, ds.UID, labels.Everything())
	seed := "ds/" + string(ds.UID) + "/" + strconv.FormatUint(view.Seq(), 10)
	d := decide(&ds, nodes, pods, history, now, seed)

	var out []reconcile.Append
	add := func(a reconcile.Append, err error) error {
		if err == nil {
			out = append(out, a)
		}
		return err
	}
	if r := d.revs.create; r != nil {
		if err := add(reconcile.Create(revKind, r, now, seed+"/"+r.Name)); err != nil {
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
	for _, p := range d.create {
		if err := add(reconcile.Create(podKind, p, now, seed+"/"+p.Name)); err != nil {
			return nil, err
		}
	}
	seen := map[string]bool{}
	for _, p := range d.delete {
		if seen[p.Name] {
			continue
		}
		seen[p.Name] = true
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
	if !equality.Semantic.DeepEqual(d.status, ds.Status) {
		ds.Status = d.status
		if err := add(reconcile.Update(dsKind, &ds, o, events.ChangeStatus)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func ownerRef(ds *appsv1.DaemonSet) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID, Controller: &yes, BlockOwnerDeletion: &yes}
}
