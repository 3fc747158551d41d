package dns

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
)

// cluster builds events for the objects DNS reads and folds them into a
// State (for the index alone) and a Projection (for the server).
type cluster struct {
	t       testing.TB
	seq     uint64
	state   *projections.State
	proj    *projections.Projection
	changes []projections.Change
	log     *events.Log // live: events go through the log, proj follows it
}

func newCluster(t testing.TB) *cluster {
	return &cluster{t: t, state: projections.NewState(), proj: projections.New(projections.Options{})}
}

// liveCluster appends to a log on an in-process NATS server and runs a
// real Projection over it.
func liveCluster(t testing.TB) *cluster {
	t.Helper()
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t)
	c.log = log
	done := make(chan struct{})
	go func() { c.proj.Run(ctx, log, nil); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-c.proj.Ready()
	return c
}

func refOf(obj any) events.Ref {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return events.Ref{Resource: "namespaces", Name: o.Name}
	case *corev1.Service:
		return events.Ref{Resource: "services", Namespace: o.Namespace, Name: o.Name}
	case *corev1.Endpoints:
		return events.Ref{Resource: "endpoints", Namespace: o.Namespace, Name: o.Name}
	case *corev1.Pod:
		return events.Ref{Resource: "pods", Namespace: o.Namespace, Name: o.Name}
	case *corev1.ConfigMap:
		return events.Ref{Resource: "configmaps", Namespace: o.Namespace, Name: o.Name}
	case *discoveryv1.EndpointSlice:
		return events.Ref{Group: "discovery.k8s.io", Resource: "endpointslices", Namespace: o.Namespace, Name: o.Name}
	}
	panic(fmt.Sprintf("no ref for %T", obj))
}

// put creates or updates objects.
func (c *cluster) put(objs ...any) {
	for _, obj := range objs {
		ref := refOf(obj)
		typ := events.ObjectCreated
		if _, ok := c.state.Get(ref); ok {
			typ = events.ObjectUpdated
		}
		data, err := json.Marshal(obj)
		if err != nil {
			c.t.Fatal(err)
		}
		c.apply(events.Event{Type: typ, Ref: ref, Data: data})
	}
}

func (c *cluster) del(objs ...any) {
	for _, obj := range objs {
		ref := refOf(obj)
		o, ok := c.state.Get(ref)
		if !ok {
			c.t.Fatalf("delete %s: not there", ref)
		}
		c.apply(events.Event{Type: events.ObjectDeleted, Ref: ref, Data: o.Raw})
	}
}

func (c *cluster) apply(ev events.Event) {
	if c.log == nil {
		c.seq++
		ev.Seq = c.seq
		c.proj.Apply(ev)
	} else {
		var expect uint64
		if o, ok := c.state.Get(ev.Ref); ok {
			expect = o.Seq
		}
		var tm struct{ APIVersion, Kind string }
		json.Unmarshal(ev.Data, &tm)
		ev.ID, ev.Source, ev.Actor, ev.RequestID = events.NewID(), "wake/test", "test", "test"
		ev.APIVersion, ev.Kind = tm.APIVersion, tm.Kind
		if ev.Type == events.ObjectUpdated {
			ev.Change = events.ChangeSpec
		}
		seq, err := c.log.Append(context.Background(), ev, expect)
		if err != nil {
			c.t.Fatal(err)
		}
		ev.Seq, c.seq = seq, seq
		if err := c.proj.WaitFor(context.Background(), seq); err != nil {
			c.t.Fatal(err)
		}
	}
	ch, err := c.state.Apply(ev)
	if err != nil {
		c.t.Fatal(err)
	}
	c.changes = append(c.changes, ch)
}

// index folds every change so far into a fresh index, one by one.
func (c *cluster) index() *Index {
	ix := NewIndex("cluster.local", 5)
	for _, ch := range c.changes {
		if Watched(ch.Object.Ref.Group, ch.Object.Ref.Resource) {
			ix.Apply(ch)
		}
	}
	return ix
}

// loaded builds an index from the final objects alone, as sync does.
func (c *cluster) loaded() *Index {
	ix := NewIndex("cluster.local", 5)
	for _, r := range [][2]string{{"", "namespaces"}, {"", "services"}, {"", "pods"}, {"", "endpoints"}, {"discovery.k8s.io", "endpointslices"}} {
		ix.Load(c.state.List(r[0], r[1], ""), c.seq)
	}
	return ix
}

// dump is every name of the index with its refs and records, sorted.
func (ix *Index) dump() string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var lines []string
	for name, n := range ix.names {
		lines = append(lines, fmt.Sprintf("%s refs=%d", name, n.refs))
		for _, rr := range n.rrs {
			lines = append(lines, "  "+rr.String())
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func newService(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	s := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, Ports: ports},
	}
	if clusterIP != "" {
		s.Spec.ClusterIPs = []string{clusterIP}
	}
	return s
}

func svcPort(name string, proto corev1.Protocol, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: proto, Port: port}
}

func externalName(ns, name, target string) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: target},
	}
}

type ep struct {
	ip       string
	ready    bool
	hostname string
	pod      string
}

func slice(ns, name, svc string, ports []discoveryv1.EndpointPort, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{serviceNameLabel: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       ports,
	}
	for _, e := range eps {
		ready := e.ready
		d := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
		if e.hostname != "" {
			d.Hostname = &e.hostname
		}
		if e.pod != "" {
			d.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: e.pod}
		}
		s.Endpoints = append(s.Endpoints, d)
	}
	return s
}

func slicePort(name string, port int32) discoveryv1.EndpointPort {
	proto := corev1.ProtocolTCP
	return discoveryv1.EndpointPort{Name: &name, Protocol: &proto, Port: &port}
}

func endpoints(ns, name string, ports []corev1.EndpointPort, eps ...ep) *corev1.Endpoints {
	e := &corev1.Endpoints{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Endpoints"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
	}
	var sub corev1.EndpointSubset
	sub.Ports = ports
	for _, x := range eps {
		a := corev1.EndpointAddress{IP: x.ip, Hostname: x.hostname}
		if x.pod != "" {
			a.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: x.pod}
		}
		if x.ready {
			sub.Addresses = append(sub.Addresses, a)
		} else {
			sub.NotReadyAddresses = append(sub.NotReadyAddresses, a)
		}
	}
	e.Subsets = []corev1.EndpointSubset{sub}
	return e
}

func statefulPod(ns, name, subdomain, ip string) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.PodSpec{Hostname: name, Subdomain: subdomain},
		Status:     corev1.PodStatus{PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

// seed is a small cluster: a ClusterIP Service with a slice, a headless
// StatefulSet Service with Endpoints only, ExternalNames, a Service
// without an address yet, and a dual-stack one.
func seed(c *cluster) {
	dual := newService("default", "dual", "10.96.0.20", svcPort("http", corev1.ProtocolTCP, 80))
	dual.Spec.ClusterIPs = []string{"10.96.0.20", "fd00::20"}
	c.put(
		namespace("default"), namespace("db"),
		newService("default", "web", "10.96.0.10", svcPort("http", corev1.ProtocolTCP, 80), svcPort("", corev1.ProtocolUDP, 53)),
		slice("default", "web-abc", "web", []discoveryv1.EndpointPort{slicePort("http", 8080)},
			ep{ip: "10.244.0.5", ready: true}, ep{ip: "10.244.0.6", ready: false}),
		newService("db", "db", "None", svcPort("pg", corev1.ProtocolTCP, 5432)),
		statefulPod("db", "db-0", "db", "10.244.1.10"),
		statefulPod("db", "db-1", "db", "10.244.1.11"),
		endpoints("db", "db", []corev1.EndpointPort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}},
			ep{ip: "10.244.1.10", ready: true, pod: "db-0"},
			ep{ip: "10.244.1.11", ready: true},
			ep{ip: "10.244.1.12", ready: false}),
		externalName("default", "ext", "Example.COM"),
		externalName("default", "alias", "web.default.svc.cluster.local"),
		newService("default", "pending", ""),
		dual,
		&corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ignored"}},
	)
}
