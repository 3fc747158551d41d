package endpoints

import (
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:endpoint-controller"

// Labels and annotations the controller sets, as upstream.
const (
	ManagedByLabel      = "endpoints.kubernetes.io/managed-by"
	ManagedBy           = "endpoint-controller"
	SkipMirrorLabel     = "endpointslice.kubernetes.io/skip-mirror"
	HeadlessLabel       = "service.kubernetes.io/headless"
	OverCapacity        = "endpoints.kubernetes.io/over-capacity"
	MaxAddresses        = 1000
	truncatedAnnotation = "truncated"
)

var (
	serviceKind   = reconcile.MustKind("", "services")
	endpointsKind = reconcile.MustKind("", "endpoints")
)

// Reconcile brings the Endpoints of the Service key up to date.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	key = events.Ref{Resource: "services", Namespace: key.Namespace, Name: key.Name}
	epRef := events.Ref{Resource: "endpoints", Namespace: key.Namespace, Name: key.Name}
	cur, exists := view.Get(epRef)
	so, ok := view.Get(key)
	if !ok {
		if !exists {
			return nil, nil
		}
		a, err := reconcile.Delete(endpointsKind, cur, now)
		return []reconcile.Append{a}, err
	}
	var svc corev1.Service
	if err := reconcile.DecodeInto(so, &svc); err != nil {
		return nil, err
	}
	pods, selects := Selected(view, &svc)
	if !selects || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, nil // the user's (or nobody's) to manage
	}
	subsets, truncated := Subsets(&svc, pods)
	lbls := desiredLabels(&svc)
	if !exists {
		ep := &corev1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: lbls},
			Subsets:    subsets,
		}
		if truncated {
			ep.Annotations = map[string]string{OverCapacity: truncatedAnnotation}
		}
		a, err := reconcile.Create(endpointsKind, ep, now, "endpoints/"+string(svc.UID))
		return []reconcile.Append{a}, err
	}
	var ep corev1.Endpoints
	if err := reconcile.DecodeInto(cur, &ep); err != nil {
		return nil, err
	}
	if ep.DeletionTimestamp != nil {
		return nil, nil
	}
	annotations := maps.Clone(ep.Annotations)
	if truncated {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[OverCapacity] = truncatedAnnotation
	} else {
		delete(annotations, OverCapacity)
	}
	if len(annotations) == 0 {
		annotations = nil
	}
	if equalSubsets(ep.Subsets, subsets) && maps.Equal(ep.Labels, lbls) && maps.Equal(ep.Annotations, annotations) {
		return nil, nil
	}
	ep.Subsets, ep.Labels, ep.Annotations = subsets, lbls, annotations
	a, err := reconcile.Update(endpointsKind, &ep, cur, events.ChangeSpec)
	return []reconcile.Append{a}, err
}

func equalSubsets(a, b []corev1.EndpointSubset) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// desiredLabels are the Service's labels plus the controller's own.
func desiredLabels(svc *corev1.Service) map[string]string {
	out := maps.Clone(svc.Labels)
	if out == nil {
		out = map[string]string{}
	}
	out[SkipMirrorLabel] = "true"
	out[ManagedByLabel] = ManagedBy
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out[HeadlessLabel] = ""
	} else {
		delete(out, HeadlessLabel)
	}
	return out
}

// Subsets computes the Endpoints subsets of svc over pods, and whether
// they were truncated to MaxAddresses.
func Subsets(svc *corev1.Service, pods []*corev1.Pod) ([]corev1.EndpointSubset, bool) {
	tolerate := svc.Spec.PublishNotReadyAddresses
	v6 := len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	type group struct {
		ports           []corev1.EndpointPort
		ready, notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	var order []string
	add := func(ports []corev1.EndpointPort, addr corev1.EndpointAddress, ready bool) {
		k := portsKey(ports)
		g := groups[k]
		if g == nil {
			g = &group{ports: ports}
			groups[k] = g
			order = append(order, k)
		}
		if ready {
			g.ready = append(g.ready, addr)
		} else {
			g.notReady = append(g.notReady, addr)
		}
	}
	for _, p := range pods {
		ip := PodIP(p, v6)
		if ip == "" || Finished(p) || p.DeletionTimestamp != nil && !tolerate {
			continue
		}
		addr := corev1.EndpointAddress{
			IP: ip, Hostname: Hostname(p, svc),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		}
		if p.Spec.NodeName != "" {
			addr.NodeName = &p.Spec.NodeName
		}
		ready := tolerate || PodReady(p)
		if len(svc.Spec.Ports) == 0 {
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				add(nil, addr, ready)
			}
			continue
		}
		var ports []corev1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, err := FindPort(p, sp)
			if err != nil {
				continue
			}
			ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: n, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
		}
		if len(ports) > 0 {
			add(ports, addr, ready)
		}
	}
	slices.Sort(order)
	var out []corev1.EndpointSubset
	total := 0
	for _, k := range order {
		g := groups[k]
		sortAddrs(g.ready)
		sortAddrs(g.notReady)
		total += len(g.ready) + len(g.notReady)
		out = append(out, corev1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: g.ports})
	}
	if total <= MaxAddresses {
		return out, false
	}
	return truncate(out, total), true
}

// truncate keeps MaxAddresses addresses, ready ones first, spread over the
// subsets in proportion to their size, as upstream does.
func truncate(subsets []corev1.EndpointSubset, total int) []corev1.EndpointSubset {
	budget := MaxAddresses
	var out []corev1.EndpointSubset
	for i, ss := range subsets {
		n := len(ss.Addresses) + len(ss.NotReadyAddresses)
		keep := n * MaxAddresses / total
		if i == len(subsets)-1 {
			keep = min(n, budget)
		}
		keep = min(keep, budget)
		budget -= keep
		r := min(keep, len(ss.Addresses))
		ss.Addresses = ss.Addresses[:r]
		ss.NotReadyAddresses = ss.NotReadyAddresses[:keep-r]
		if len(ss.Addresses)+len(ss.NotReadyAddresses) > 0 {
			if len(ss.Addresses) == 0 {
				ss.Addresses = nil
			}
			if len(ss.NotReadyAddresses) == 0 {
				ss.NotReadyAddresses = nil
			}
			out = append(out, ss)
		}
	}
	return out
}

func portsKey(ports []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%d/%s;", p.Name, p.Port, p.Protocol)
	}
	return b.String()
}

// sortAddrs orders addresses by IP, then pod uid, as upstream.
func sortAddrs(a []corev1.EndpointAddress) {
	slices.SortFunc(a, func(x, y corev1.EndpointAddress) int {
		xa, _ := netip.ParseAddr(x.IP)
		ya, _ := netip.ParseAddr(y.IP)
		if c := xa.Compare(ya); c != 0 {
			return c
		}
		return strings.Compare(string(x.TargetRef.UID), string(y.TargetRef.UID))
	})
}
