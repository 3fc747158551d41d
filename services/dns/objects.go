package dns

import (
	"encoding/json"
	"net/netip"
	"strings"
)

// The parts of the Kubernetes objects DNS reads. Decoding only these keeps a
// pod status update cheap.

type meta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

type serviceObj struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		Type                     string    `json:"type"`
		ClusterIP                string    `json:"clusterIP"`
		ClusterIPs               []string  `json:"clusterIPs"`
		ExternalName             string    `json:"externalName"`
		PublishNotReadyAddresses bool      `json:"publishNotReadyAddresses"`
		Ports                    []portObj `json:"ports"`
	} `json:"spec"`
}

type portObj struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
}

type targetRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

type sliceObj struct {
	Metadata    meta   `json:"metadata"`
	AddressType string `json:"addressType"`
	Endpoints   []struct {
		Addresses  []string `json:"addresses"`
		Conditions struct {
			Ready *bool `json:"ready"`
		} `json:"conditions"`
		Hostname  *string    `json:"hostname"`
		TargetRef *targetRef `json:"targetRef"`
	} `json:"endpoints"`
	Ports []struct {
		Name     *string `json:"name"`
		Protocol *string `json:"protocol"`
		Port     *int32  `json:"port"`
	} `json:"ports"`
}

type endpointAddrObj struct {
	IP        string     `json:"ip"`
	Hostname  string     `json:"hostname"`
	TargetRef *targetRef `json:"targetRef"`
}

type endpointsObj struct {
	Metadata meta `json:"metadata"`
	Subsets  []struct {
		Addresses         []endpointAddrObj `json:"addresses"`
		NotReadyAddresses []endpointAddrObj `json:"notReadyAddresses"`
		Ports             []portObj         `json:"ports"`
	} `json:"subsets"`
}

type podObj struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		Hostname  string `json:"hostname"`
		Subdomain string `json:"subdomain"`
	} `json:"spec"`
	Status struct {
		PodIP  string `json:"podIP"`
		PodIPs []struct {
			IP string `json:"ip"`
		} `json:"podIPs"`
	} `json:"status"`
}

// The decoded forms the index keeps.

type port struct {
	name, proto string // proto lower case: tcp, udp, sctp
	port        uint16
}

// endpoint is one ready address of a Service.
type endpoint struct {
	addr     netip.Addr
	ready    bool
	hostname string // as published; "" when none
	pod      string // the Pod it points to, "" when none
}

// endpointGroup is a set of endpoints sharing ports: one slice or subset.
type endpointGroup struct {
	ports     []port
	endpoints []endpoint
}

type service struct {
	ns, name     string
	clusterIPs   []netip.Addr
	headless     bool
	externalName string // a fully qualified, lower-case name
	notReady     bool   // publishNotReadyAddresses
	ports        []port
}

type pod struct {
	ns, name            string
	hostname, subdomain string
	ips                 []netip.Addr
}

func decodeService(raw []byte) (*service, error) {
	var o serviceObj
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	s := &service{ns: o.Metadata.Namespace, name: o.Metadata.Name, notReady: o.Spec.PublishNotReadyAddresses}
	switch {
	case o.Spec.Type == "ExternalName":
		if name := strings.ToLower(strings.TrimSuffix(o.Spec.ExternalName, ".")); isDomain(name) {
			s.externalName = name + "."
		}
		return s, nil
	case o.Spec.ClusterIP == "None":
		s.headless = true
	default:
		ips := o.Spec.ClusterIPs
		if len(ips) == 0 && o.Spec.ClusterIP != "" {
			ips = []string{o.Spec.ClusterIP}
		}
		for _, ip := range ips {
			if a, err := netip.ParseAddr(ip); err == nil {
				s.clusterIPs = append(s.clusterIPs, a.Unmap())
			}
		}
	}
	for _, p := range o.Spec.Ports {
		if pp, ok := makePort(p.Name, p.Protocol, p.Port); ok {
			s.ports = append(s.ports, pp)
		}
	}
	return s, nil
}

func makePort(name, proto string, number int32) (port, bool) {
	if number <= 0 || number > 65535 {
		return port{}, false
	}
	if proto == "" {
		proto = "TCP"
	}
	return port{name: strings.ToLower(name), proto: strings.ToLower(proto), port: uint16(number)}, true
}

// decodeSlice returns the slice's Service name and its endpoints.
func decodeSlice(raw []byte) (string, endpointGroup, error) {
	var o sliceObj
	if err := json.Unmarshal(raw, &o); err != nil {
		return "", endpointGroup{}, err
	}
	svc := o.Metadata.Labels[serviceNameLabel]
	var g endpointGroup
	if o.AddressType == "FQDN" {
		return svc, g, nil
	}
	for _, p := range o.Ports {
		var name, proto string
		var number int32
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if p.Port != nil {
			number = *p.Port
		}
		if pp, ok := makePort(name, proto, number); ok {
			g.ports = append(g.ports, pp)
		}
	}
	for _, e := range o.Endpoints {
		ready := e.Conditions.Ready == nil || *e.Conditions.Ready
		var host, podName string
		if e.Hostname != nil {
			host = *e.Hostname
		}
		if e.TargetRef != nil && e.TargetRef.Kind == "Pod" {
			podName = e.TargetRef.Name
		}
		for _, a := range e.Addresses {
			if addr, err := netip.ParseAddr(a); err == nil {
				g.endpoints = append(g.endpoints, endpoint{addr: addr.Unmap(), ready: ready, hostname: host, pod: podName})
			}
		}
	}
	return svc, g, nil
}

func decodeEndpoints(raw []byte) ([]endpointGroup, error) {
	var o endpointsObj
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	var out []endpointGroup
	for _, sub := range o.Subsets {
		var g endpointGroup
		for _, p := range sub.Ports {
			if pp, ok := makePort(p.Name, p.Protocol, p.Port); ok {
				g.ports = append(g.ports, pp)
			}
		}
		for i, a := range append(sub.Addresses[:len(sub.Addresses):len(sub.Addresses)], sub.NotReadyAddresses...) {
			addr, err := netip.ParseAddr(a.IP)
			if err != nil {
				continue
			}
			e := endpoint{addr: addr.Unmap(), ready: i < len(sub.Addresses), hostname: a.Hostname}
			if a.TargetRef != nil && a.TargetRef.Kind == "Pod" {
				e.pod = a.TargetRef.Name
			}
			g.endpoints = append(g.endpoints, e)
		}
		out = append(out, g)
	}
	return out, nil
}

// decodePod returns nil for a pod DNS does not need: one without both a
// hostname and a subdomain.
func decodePod(raw []byte) (*pod, error) {
	var o podObj
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	if o.Spec.Hostname == "" || o.Spec.Subdomain == "" {
		return nil, nil
	}
	p := &pod{ns: o.Metadata.Namespace, name: o.Metadata.Name, hostname: o.Spec.Hostname, subdomain: o.Spec.Subdomain}
	ips := []string{o.Status.PodIP}
	for _, ip := range o.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil && !containsAddr(p.ips, a.Unmap()) {
			p.ips = append(p.ips, a.Unmap())
		}
	}
	return p, nil
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

// isLabel reports whether s is a DNS-1123 label: what Kubernetes allows in
// names, and all this package puts into a name it builds.
func isLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isDomain reports whether s (lower case, no trailing dot) is a host name:
// labels of letters, digits, '-' and '_' (as in _service names).
func isDomain(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if len(l) == 0 || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return false
		}
	}
	return true
}
