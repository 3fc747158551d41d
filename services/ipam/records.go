package ipam

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
)

// Where records live: the IPAddress keeps the upstream group, version and
// kind; the node port record is wake's own.
const (
	IPGroup, IPResource, IPKind, IPAPIVersion         = "networking.k8s.io", "ipaddresses", "IPAddress", "networking.k8s.io/v1"
	PortGroup, PortResource, PortKind, PortAPIVersion = "wake.io", "servicenodeports", "ServiceNodePort", "wake.io/v1"
	ManagedByLabel, ManagedBy                         = "ipaddress.kubernetes.io/managed-by", "ipallocator.k8s.io"
	ServiceUIDAnnotation                              = "ipam.wake.io/service-uid"
)

// IPRef is the record of one cluster IP.
func IPRef(a netip.Addr) events.Ref {
	return events.Ref{Group: IPGroup, Resource: IPResource, Name: a.Unmap().String()}
}

// PortRef is the record of one node port.
func PortRef(port int32) events.Ref {
	return events.Ref{Group: PortGroup, Resource: PortResource, Name: strconv.Itoa(int(port))}
}

// Record is one allocation: an IPAddress, or a ServiceNodePort of the same
// shape (the parent Service in spec.parentRef).
type Record struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              networkingv1.IPAddressSpec `json:"spec"`
}

// Owner names the Service a record was allocated for.
type Owner struct {
	Namespace, Name string
	UID             string
}

// OwnerOf is the Service svc as an Owner.
func OwnerOf(svc *corev1.Service) Owner {
	return Owner{Namespace: svc.Namespace, Name: svc.Name, UID: string(svc.UID)}
}

// Owner is the Service the record was allocated for.
func (r *Record) Owner() Owner {
	o := Owner{UID: r.Annotations[ServiceUIDAnnotation]}
	if p := r.Spec.ParentRef; p != nil {
		o.Namespace, o.Name = p.Namespace, p.Name
	}
	return o
}

// Event returns the creation of the record for ref, held by owner; the
// caller sets id, actor, source and request id.
func Event(ref events.Ref, owner Owner, now time.Time) events.Event {
	apiVersion, kind := IPAPIVersion, IPKind
	if ref.Group == PortGroup {
		apiVersion, kind = PortAPIVersion, PortKind
	}
	r := Record{
		TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{
			Name:              ref.Name,
			CreationTimestamp: metav1.NewTime(now.UTC().Truncate(time.Second)),
			Labels:            map[string]string{ManagedByLabel: ManagedBy},
			Annotations:       map[string]string{ServiceUIDAnnotation: owner.UID},
		},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{
			Resource: "services", Namespace: owner.Namespace, Name: owner.Name,
		}},
	}
	data, _ := json.Marshal(r) // a Record always encodes
	return events.Event{Type: events.ObjectCreated, Ref: ref, APIVersion: apiVersion, Kind: kind, Time: now.UTC(), Data: data}
}

// Held is what a Service holds: its cluster IPs (none for headless and
// ExternalName Services) and its node ports (including the health check
// node port), each once, in order.
func Held(svc *corev1.Service) (ips []netip.Addr, ports []int32) {
	if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, nil
	}
	list := svc.Spec.ClusterIPs
	if len(list) == 0 && svc.Spec.ClusterIP != "" {
		list = []string{svc.Spec.ClusterIP}
	}
	for _, s := range list {
		if a, err := netip.ParseAddr(s); err == nil && !slices.Contains(ips, a.Unmap()) {
			ips = append(ips, a.Unmap())
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 && !slices.Contains(ports, p.NodePort) {
			ports = append(ports, p.NodePort)
		}
	}
	if h := svc.Spec.HealthCheckNodePort; h != 0 && !slices.Contains(ports, h) {
		ports = append(ports, h)
	}
	return ips, ports
}

// Refs are the records of what svc holds.
func Refs(svc *corev1.Service) []events.Ref {
	ips, ports := Held(svc)
	out := make([]events.Ref, 0, len(ips)+len(ports))
	for _, a := range ips {
		out = append(out, IPRef(a))
	}
	for _, p := range ports {
		out = append(out, PortRef(p))
	}
	return out
}

// NeedsNodePorts reports whether svc's ports get node ports: NodePort
// Services, and LoadBalancers unless allocateLoadBalancerNodePorts is false.
func NeedsNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

// NeedsHealthCheckNodePort reports whether svc gets a health check node
// port: a LoadBalancer with externalTrafficPolicy Local.
func NeedsHealthCheckNodePort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// NeedsClusterIP reports whether svc gets a cluster IP: every type but
// ExternalName, unless headless.
func NeedsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone
}
