package servicelb

import (
	"net/netip"
	"reflect"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:servicelb"

var serviceKind = reconcile.MustKind("", "services")

// Reconcile sets the ingress of the Service key.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var svc corev1.Service
	if err := reconcile.DecodeInto(o, &svc); err != nil {
		return nil, err
	}
	if svc.Spec.LoadBalancerClass != nil {
		return nil, nil
	}
	var want []corev1.LoadBalancerIngress
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.DeletionTimestamp == nil {
		want = Ingress(view)
	}
	if reflect.DeepEqual(svc.Status.LoadBalancer.Ingress, want) {
		return nil, nil
	}
	svc.Status.LoadBalancer.Ingress = want
	a, err := reconcile.Update(serviceKind, &svc, o, events.ChangeStatus)
	return []reconcile.Append{a}, err
}

// Ingress is the InternalIP of every Ready, schedulable node, sorted.
func Ingress(view reconcile.View) []corev1.LoadBalancerIngress {
	objs, _ := view.List("", "nodes", "")
	var ips []netip.Addr
	for _, o := range objs {
		var n corev1.Node
		if reconcile.DecodeInto(o, &n) != nil || !nodeReady(&n) || n.DeletionTimestamp != nil {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && !slices.Contains(ips, ip.Unmap()) {
				ips = append(ips, ip.Unmap())
			}
		}
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	var out []corev1.LoadBalancerIngress
	for _, ip := range ips {
		out = append(out, corev1.LoadBalancerIngress{IP: ip.String(), IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)})
	}
	return out
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Loop returns the controller's loop over log and view.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: Reconcile,
		Keys:         func(ch projections.Change) []events.Ref { return Keys(view, ch) },
		ResyncKeys:   loadBalancers,
		RequeueAfter: reconcile.Every(5*time.Minute, func(_ reconcile.View, o *projections.Object) bool { return isLB(o) }),
	}
}

// Keys maps a change to the Services it concerns: a Service that is or was
// a LoadBalancer, and for a node every LoadBalancer Service.
func Keys(view reconcile.View, ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	if ref.Group != "" {
		return nil
	}
	switch ref.Resource {
	case "services":
		if ch.Type != projections.Deleted && (isLB(ch.Object) || ch.Prev != nil && isLB(ch.Prev)) {
			return []events.Ref{ref}
		}
	case "nodes":
		return loadBalancers(view)
	}
	return nil
}

func isLB(o *projections.Object) bool {
	var s struct {
		Spec struct {
			Type corev1.ServiceType `json:"type"`
		} `json:"spec"`
		Status corev1.ServiceStatus `json:"status"`
	}
	return reconcile.DecodeInto(o, &s) == nil && (s.Spec.Type == corev1.ServiceTypeLoadBalancer || len(s.Status.LoadBalancer.Ingress) > 0)
}

func loadBalancers(view reconcile.View) []events.Ref {
	objs, _ := view.List("", "services", "")
	var out []events.Ref
	for _, o := range objs {
		if isLB(o) {
			out = append(out, o.Ref)
		}
	}
	return out
}
