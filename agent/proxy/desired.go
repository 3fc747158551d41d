package proxy

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Endpoint is one ready backend of a service port.
type Endpoint struct {
	Addr netip.Addr
	Port uint16
}

// ServicePort is one port of one Service as the kernel sees it: the unit
// the proxy diffs and programs.
type ServicePort struct {
	Name      string // namespace/name:port (the port's name or number)
	ClusterIP netip.Addr
	Protocol  uint8 // IPPROTO_TCP, _UDP or _SCTP
	Port      uint16
	NodePort  uint16     // 0 when none
	Endpoints []Endpoint // ready only, sorted, unique
	// AffinitySeconds > 0 is sessionAffinity ClientIP: a client returns to
	// its endpoint while it has been seen in the last AffinitySeconds.
	AffinitySeconds int32
}

// Chain is the name of the ServicePort's chain; its identity does not
// depend on the endpoints, so the chain survives endpoint changes.
func (sp *ServicePort) Chain() string { return "service-" + hash(sp.identity()) }

// ExternalChain is the NodePort entry chain.
func (sp *ServicePort) ExternalChain() string { return "external-" + hash(sp.identity()) }

// EndpointChain is the chain that DNATs to e.
func (sp *ServicePort) EndpointChain(e Endpoint) string {
	return "endpoint-" + sp.endpointHash(e)
}

// AffinitySet is the set of clients recently sent to e (sessionAffinity
// ClientIP); it exists when AffinitySeconds > 0.
func (sp *ServicePort) AffinitySet(e Endpoint) string { return "affinity-" + sp.endpointHash(e) }

// endpointHash names what belongs to one endpoint; the affinity timeout is
// part of it, so that the endpoint's chain never needs rewriting.
func (sp *ServicePort) endpointHash(e Endpoint) string {
	return hash(sp.identity() + "|" + netip.AddrPortFrom(e.Addr, e.Port).String() + "|" + strconv.Itoa(int(sp.AffinitySeconds)))
}

func (sp *ServicePort) identity() string {
	return sp.Name + "|" + protoName(sp.Protocol)
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10]))
}

// Equal reports whether two ServicePorts program the same rules.
func (sp *ServicePort) Equal(o *ServicePort) bool {
	return sp.Name == o.Name && sp.ClusterIP == o.ClusterIP && sp.Protocol == o.Protocol &&
		sp.Port == o.Port && sp.NodePort == o.NodePort && sp.AffinitySeconds == o.AffinitySeconds &&
		slices.Equal(sp.Endpoints, o.Endpoints)
}

const (
	protoTCP  = 6
	protoUDP  = 17
	protoSCTP = 132
)

func parseProto(p string) (uint8, bool) {
	switch p {
	case "", "TCP":
		return protoTCP, true
	case "UDP":
		return protoUDP, true
	case "SCTP":
		return protoSCTP, true
	}
	return 0, false
}

func protoName(p uint8) string {
	switch p {
	case protoUDP:
		return "UDP"
	case protoSCTP:
		return "SCTP"
	}
	return "TCP"
}

// The parts of the Kubernetes objects the proxy reads.

type serviceObj struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Type            string `json:"type"`
		ClusterIP       string `json:"clusterIP"`
		SessionAffinity string `json:"sessionAffinity"`
		AffinityConfig  *struct {
			ClientIP *struct {
				TimeoutSeconds *int32 `json:"timeoutSeconds"`
			} `json:"clientIP"`
		} `json:"sessionAffinityConfig"`
		Ports []struct {
			Name     string `json:"name"`
			Protocol string `json:"protocol"`
			Port     int32  `json:"port"`
			NodePort int32  `json:"nodePort"`
		} `json:"ports"`
	} `json:"spec"`
}

type sliceObj struct {
	Metadata struct {
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	AddressType string `json:"addressType"`
	Endpoints   []struct {
		Addresses  []string `json:"addresses"`
		Conditions struct {
			Ready *bool `json:"ready"`
		} `json:"conditions"`
	} `json:"endpoints"`
	Ports []struct {
		Name     *string `json:"name"`
		Protocol *string `json:"protocol"`
		Port     *int32  `json:"port"`
	} `json:"ports"`
}

// slice is an EndpointSlice reduced to what the rules need.
type slice struct {
	service string
	ports   []slicePort
	addrs   []netip.Addr // ready IPv4 addresses
}

type slicePort struct {
	name  string
	proto uint8
	port  uint16
}

const serviceNameLabel = "kubernetes.io/service-name"

func decodeSlice(raw []byte) (*slice, error) {
	var o sliceObj
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	s := &slice{service: o.Metadata.Labels[serviceNameLabel]}
	if o.AddressType != "IPv4" || s.service == "" {
		return s, nil
	}
	for _, p := range o.Ports {
		if p.Port == nil || *p.Port < 1 || *p.Port > 65535 {
			continue
		}
		sp := slicePort{port: uint16(*p.Port)}
		if p.Name != nil {
			sp.name = *p.Name
		}
		var proto string
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		var ok bool
		if sp.proto, ok = parseProto(proto); ok {
			s.ports = append(s.ports, sp)
		}
	}
	for _, e := range o.Endpoints {
		if e.Conditions.Ready != nil && !*e.Conditions.Ready {
			continue // nil means ready (discovery/v1)
		}
		for _, a := range e.Addresses {
			if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
				s.addrs = append(s.addrs, ip)
			}
		}
	}
	return s, nil
}

// Desired computes the ServicePorts of one Service from its object (nil when
// it does not exist) and its EndpointSlices. Headless and ExternalName
// Services, and ports the kernel cannot express, yield nothing.
func Desired(svcRaw []byte, slices_ []*slice) []ServicePort {
	if svcRaw == nil {
		return nil
	}
	var svc serviceObj
	if json.Unmarshal(svcRaw, &svc) != nil {
		return nil
	}
	if svc.Spec.Type == "ExternalName" {
		return nil
	}
	vip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !vip.Is4() { // "None" (headless), empty, or IPv6
		return nil
	}
	var affinity int32
	if svc.Spec.SessionAffinity == "ClientIP" {
		affinity = 10800
		if c := svc.Spec.AffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = *c.ClientIP.TimeoutSeconds
		}
	}
	var out []ServicePort
	for _, p := range svc.Spec.Ports {
		proto, ok := parseProto(p.Protocol)
		if !ok || p.Port < 1 || p.Port > 65535 {
			continue
		}
		id := p.Name
		if id == "" {
			id = strconv.Itoa(int(p.Port))
		}
		sp := ServicePort{
			Name:      svc.Metadata.Namespace + "/" + svc.Metadata.Name + ":" + id,
			ClusterIP: vip, Protocol: proto, Port: uint16(p.Port),
			AffinitySeconds: affinity,
		}
		if svc.Spec.Type == "NodePort" || svc.Spec.Type == "LoadBalancer" {
			if p.NodePort > 0 && p.NodePort <= 65535 {
				sp.NodePort = uint16(p.NodePort)
			}
		}
		for _, s := range slices_ {
			// A slice port answers a service port by name (the slice
			// resolved targetPort, named or numbered, to a number).
			for _, q := range s.ports {
				if q.name == p.Name && q.proto == proto {
					for _, a := range s.addrs {
						sp.Endpoints = append(sp.Endpoints, Endpoint{a, q.port})
					}
				}
			}
		}
		slices.SortFunc(sp.Endpoints, func(a, b Endpoint) int {
			if c := a.Addr.Compare(b.Addr); c != 0 {
				return c
			}
			return int(a.Port) - int(b.Port)
		})
		sp.Endpoints = slices.Compact(sp.Endpoints)
		out = append(out, sp)
	}
	return out
}
