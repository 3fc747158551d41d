package endpointslice

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/endpoints"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:endpointslice-controller"

// ManagedBy is the value of discoveryv1.LabelManagedBy on the slices this
// controller owns; MaxEndpoints is upstream's --max-endpoints-per-slice.
const (
	ManagedBy    = "endpointslice-controller.k8s.io"
	MaxEndpoints = 100
	zoneLabel    = "topology.kubernetes.io/zone"
)

var sliceKind = reconcile.MustKind("discovery.k8s.io", "endpointslices")

// chunk is the content of one desired slice.
type chunk struct {
	key       string
	ports     []discoveryv1.EndpointPort
	endpoints []discoveryv1.Endpoint
}

// Reconcile brings the slices of the Service key up to date.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	key = events.Ref{Resource: "services", Namespace: key.Namespace, Name: key.Name}
	existing := managed(view, key.Namespace, key.Name)
	so, ok := view.Get(key)
	var svc corev1.Service
	if ok {
		if err := reconcile.DecodeInto(so, &svc); err != nil {
			return nil, err
		}
	}
	if !ok || svc.DeletionTimestamp != nil {
		return deleteAll(existing, now)
	}
	pods, selects := endpoints.Selected(view, &svc)
	if !selects || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, nil
	}
	addrType := discoveryv1.AddressTypeIPv4
	if len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] == corev1.IPv6Protocol {
		addrType = discoveryv1.AddressTypeIPv6
	}
	want := Chunks(view, &svc, pods, addrType)
	lbls := desiredLabels(&svc)

	var out []reconcile.Append
	free := map[string][]*sliceObj{} // existing slices by port set, in name order
	for _, e := range existing {
		if e.slice.AddressType != addrType {
			a, err := reconcile.Delete(sliceKind, e.obj, now)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
			continue
		}
		k := portsKey(e.slice.Ports)
		free[k] = append(free[k], e)
	}
	same := func(s *discoveryv1.EndpointSlice, c chunk) bool {
		return maps.Equal(s.Labels, lbls) && reflect.DeepEqual(s.Ports, c.ports) && reflect.DeepEqual(s.Endpoints, c.endpoints) && controlledBy(s, &svc)
	}
	// First the chunks some slice already holds exactly, then the rest in
	// order, each into the next free slice of its port set.
	done := make([]bool, len(want))
	for i, c := range want {
		for j, e := range free[c.key] {
			if same(e.slice, c) {
				free[c.key] = slices.Delete(free[c.key], j, j+1)
				done[i] = true
				break
			}
		}
	}
	for i, c := range want {
		if done[i] {
			continue
		}
		if len(free[c.key]) > 0 {
			e := free[c.key][0]
			free[c.key] = free[c.key][1:]
			s := e.slice
			s.Labels, s.Ports, s.Endpoints = lbls, c.ports, c.endpoints
			s.OwnerReferences = ownerRefs(&svc)
			a, err := reconcile.Update(sliceKind, s, e.obj, events.ChangeSpec)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
			continue
		}
		s := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{
				Name:            svc.Name + "-" + reconcile.NameSuffix(fmt.Sprintf("%s/%d/%d", svc.UID, view.Seq(), i)),
				Namespace:       svc.Namespace,
				Labels:          lbls,
				OwnerReferences: ownerRefs(&svc),
			},
			AddressType: addrType, Ports: c.ports, Endpoints: c.endpoints,
		}
		a, err := reconcile.Create(sliceKind, s, now, "endpointslice/"+s.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	var rest []*sliceObj
	for _, l := range free {
		rest = append(rest, l...)
	}
	more, err := deleteAll(rest, now)
	return append(out, more...), err
}

// Chunks computes the desired slices' content for svc over pods.
func Chunks(view reconcile.View, svc *corev1.Service, pods []*corev1.Pod, addrType discoveryv1.AddressType) []chunk {
	tolerate := svc.Spec.PublishNotReadyAddresses
	groups := map[string]*chunk{}
	var keys []string
	for _, p := range pods {
		ip := endpoints.PodIP(p, addrType == discoveryv1.AddressTypeIPv6)
		if ip == "" || endpoints.Finished(p) {
			continue
		}
		var ports []discoveryv1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, err := endpoints.FindPort(p, sp)
			if err != nil {
				continue
			}
			ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(sp.Name), Port: ptr.To(n), Protocol: ptr.To(sp.Protocol), AppProtocol: sp.AppProtocol})
		}
		if len(svc.Spec.Ports) > 0 && len(ports) == 0 {
			continue // none of the Service's ports resolve on this pod
		}
		serving := endpoints.PodReady(p)
		terminating := p.DeletionTimestamp != nil
		ep := discoveryv1.Endpoint{
			Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{
				Ready:       ptr.To(tolerate || serving && !terminating),
				Serving:     ptr.To(serving || tolerate),
				Terminating: ptr.To(terminating),
			},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		}
		if h := endpoints.Hostname(p, svc); h != "" {
			ep.Hostname = ptr.To(h)
		}
		if p.Spec.NodeName != "" {
			ep.NodeName = ptr.To(p.Spec.NodeName)
			if zone := nodeZone(view, p.Spec.NodeName); zone != "" {
				ep.Zone = ptr.To(zone)
			}
		}
		k := portsKey(ports)
		g := groups[k]
		if g == nil {
			g = &chunk{key: k, ports: ports}
			groups[k] = g
			keys = append(keys, k)
		}
		g.endpoints = append(g.endpoints, ep)
	}
	slices.Sort(keys)
	var out []chunk
	for _, k := range keys {
		g := groups[k]
		slices.SortFunc(g.endpoints, func(a, b discoveryv1.Endpoint) int { return strings.Compare(a.TargetRef.Name, b.TargetRef.Name) })
		for start := 0; start < len(g.endpoints); start += MaxEndpoints {
			out = append(out, chunk{key: k, ports: g.ports, endpoints: g.endpoints[start:min(start+MaxEndpoints, len(g.endpoints))]})
		}
	}
	if len(out) == 0 {
		// A placeholder, so that consumers see the Service has no endpoints.
		out = append(out, chunk{key: portsKey(nil)})
	}
	return out
}

func nodeZone(view reconcile.View, node string) string {
	o, ok := view.Get(events.Ref{Resource: "nodes", Name: node})
	if !ok {
		return ""
	}
	return o.Labels[zoneLabel]
}

// sliceObj is one existing managed slice.
type sliceObj struct {
	obj   *projections.Object
	slice *discoveryv1.EndpointSlice
}

// managed are the slices of Service name this controller owns, by name.
func managed(view reconcile.View, namespace, name string) []*sliceObj {
	objs, _ := view.List("discovery.k8s.io", "endpointslices", namespace)
	var out []*sliceObj
	for _, o := range objs {
		if o.Labels[discoveryv1.LabelServiceName] != name || o.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
			continue
		}
		var s discoveryv1.EndpointSlice
		if reconcile.DecodeInto(o, &s) == nil && s.DeletionTimestamp == nil {
			out = append(out, &sliceObj{obj: o, slice: &s})
		}
	}
	return out
}

func deleteAll(list []*sliceObj, now time.Time) ([]reconcile.Append, error) {
	slices.SortFunc(list, func(a, b *sliceObj) int { return strings.Compare(a.obj.Ref.Name, b.obj.Ref.Name) })
	var out []reconcile.Append
	for _, e := range list {
		a, err := reconcile.Delete(sliceKind, e.obj, now)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func desiredLabels(svc *corev1.Service) map[string]string {
	out := maps.Clone(svc.Labels)
	if out == nil {
		out = map[string]string{}
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = ManagedBy
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		out[corev1.IsHeadlessService] = ""
	} else {
		delete(out, corev1.IsHeadlessService)
	}
	return out
}

func ownerRefs(svc *corev1.Service) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
}

func controlledBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	return reflect.DeepEqual(s.OwnerReferences, ownerRefs(svc))
}

func portsKey(ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%d/%s;", ptr.Deref(p.Name, ""), ptr.Deref(p.Port, 0), ptr.Deref(p.Protocol, ""))
	}
	return b.String()
}
