package proxy

import (
	"encoding/json"
	"net/netip"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

type port struct {
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	Port     int32  `json:"port"`
	NodePort int32  `json:"nodePort,omitempty"`
}

func service(ns, name, typ, clusterIP string, ports ...port) []byte {
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": name, "namespace": ns, "uid": "u-" + name},
		"spec":     map[string]any{"type": typ, "clusterIP": clusterIP, "ports": ports},
	})
	return b
}

type ep struct {
	ip    string
	ready *bool
}

var (
	yes = new(bool)
	no  = func() *bool { b := false; return &b }()
)

func init() { *yes = true }

func endpointSlice(ns, name, svc, addrType string, eps []ep, ports ...port) []byte {
	var es []map[string]any
	for _, e := range eps {
		m := map[string]any{"addresses": []string{e.ip}, "conditions": map[string]any{}}
		if e.ready != nil {
			m["conditions"] = map[string]any{"ready": *e.ready}
		}
		es = append(es, m)
	}
	var ps []map[string]any
	for _, p := range ports {
		pm := map[string]any{"port": p.Port}
		pm["name"] = p.Name
		if p.Protocol != "" {
			pm["protocol"] = p.Protocol
		}
		ps = append(ps, pm)
	}
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
		"metadata":    map[string]any{"name": name, "namespace": ns, "uid": "u-" + name, "labels": map[string]string{serviceNameLabel: svc}},
		"addressType": addrType, "endpoints": es, "ports": ps,
	})
	return b
}

func svcRef(ns, name string) events.Ref {
	return events.Ref{Resource: "services", Namespace: ns, Name: name}
}
func sliceRef(ns, name string) events.Ref {
	return events.Ref{Group: "discovery.k8s.io", Resource: "endpointslices", Namespace: ns, Name: name}
}

func change(typ projections.ChangeType, ref events.Ref, raw []byte) projections.Change {
	return projections.Change{Type: typ, Object: &projections.Object{Ref: ref, Raw: raw}}
}

func addrs(n int, base string) []ep {
	a := netip.MustParseAddr(base)
	out := make([]ep, n)
	for i := range out {
		out[i] = ep{ip: a.String()}
		a = a.Next()
	}
	return out
}

func epList(port uint16, ips ...string) []Endpoint {
	out := make([]Endpoint, len(ips))
	for i, ip := range ips {
		out[i] = Endpoint{netip.MustParseAddr(ip), port}
	}
	return out
}
