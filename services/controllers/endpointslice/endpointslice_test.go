package endpointslice

import (
	"encoding/json"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/services/reconcile"
	"github.com/wakehq/wake/services/reconcile/reconciletest"
)

// fakeView is the shared in-memory view.
type fakeView struct{ *reconciletest.View }

func newView(t *testing.T) *fakeView { return &fakeView{reconciletest.NewView(t)} }

var t0 = metav1.Unix(1777636800, 0).UTC()

func svc(mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-uid"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, ClusterIP: "10.96.0.10", Type: corev1.ServiceTypeClusterIP,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}}}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func pod(name, ip string, ready bool, mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c", Image: "nginx",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip}}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if mutate != nil {
		mutate(p)
	}
	return p
}

var key = events.Ref{Resource: "services", Namespace: "default", Name: "web"}

func (v *fakeView) slices() []discoveryv1.EndpointSlice {
	var out []discoveryv1.EndpointSlice
	for _, o := range v.State.List("discovery.k8s.io", "endpointslices", "default") {
		var s discoveryv1.EndpointSlice
		json.Unmarshal(o.Raw, &s)
		out = append(out, s)
	}
	return out
}

func (v *fakeView) reconcile() []reconcile.Append {
	v.T().Helper()
	out, err := Reconcile(v, key, t0)
	if err != nil {
		v.T().Fatal(err)
	}
	v.Run(out)
	return out
}

func cond(b *bool) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprint(*b)
}

func TestEndpointConditions(t *testing.T) {
	now := metav1.NewTime(t0)
	tests := []struct {
		name string
		svc  *corev1.Service
		pod  *corev1.Pod
		want string // ready/serving/terminating, or "" for no endpoint
	}{
		{"ready", svc(nil), pod("a", "10.0.0.1", true, nil), "true/true/false"},
		{"not ready", svc(nil), pod("a", "10.0.0.1", false, nil), "false/false/false"},
		{"terminating", svc(nil), pod("a", "10.0.0.1", true, func(p *corev1.Pod) { p.DeletionTimestamp = &now }), "false/true/true"},
		{"publishNotReady", svc(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }), pod("a", "10.0.0.1", false, nil), "true/true/false"},
		{"no IP", svc(nil), pod("a", "", true, nil), ""},
		{"finished", svc(nil), pod("a", "10.0.0.1", true, func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }), ""},
		{"named port missing", svc(nil), pod("a", "10.0.0.1", true, func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := Chunks(newView(t), tt.svc, []*corev1.Pod{tt.pod}, discoveryv1.AddressTypeIPv4)
			got := ""
			if len(cs[0].endpoints) == 1 {
				c := cs[0].endpoints[0].Conditions
				got = cond(c.Ready) + "/" + cond(c.Serving) + "/" + cond(c.Terminating)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReconcileSlices(t *testing.T) {
	v := newView(t)
	v.Put("nodes", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"topology.kubernetes.io/zone": "z1"}}})
	v.Put("services", svc(nil))
	// Nothing selected: one placeholder slice.
	v.reconcile()
	if s := v.slices(); len(s) != 1 || len(s[0].Endpoints) != 0 {
		t.Fatalf("placeholder: %+v", s)
	}
	for i := range 250 {
		v.Put("pods", pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.0.%d.%d", i/200, i%200+1), true, func(p *corev1.Pod) {
			p.Spec.Hostname, p.Spec.Subdomain = "h", "web"
		}))
	}
	v.reconcile()
	sl := v.slices()
	if len(sl) != 3 {
		t.Fatalf("%d slices for 250 endpoints, want 3", len(sl))
	}
	total := 0
	for _, s := range sl {
		if len(s.Endpoints) > MaxEndpoints || s.Labels[discoveryv1.LabelServiceName] != "web" || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
			t.Fatalf("slice %s: %d endpoints, labels %v", s.Name, len(s.Endpoints), s.Labels)
		}
		if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "svc-uid" {
			t.Fatalf("owner %v", s.OwnerReferences)
		}
		e := s.Endpoints[0]
		if *e.Zone != "z1" || *e.NodeName != "node-1" || *e.Hostname != "h" || *s.Ports[0].Port != 8080 {
			t.Fatalf("endpoint %+v ports %+v", e, s.Ports)
		}
		total += len(s.Endpoints)
	}
	if total != 250 {
		t.Fatalf("%d endpoints", total)
	}
	if out := v.reconcile(); len(out) != 0 {
		t.Fatalf("steady state appended %d", len(out))
	}
	// Deterministic: the same view gives the same decision.
	out1, _ := Reconcile(v, key, t0)
	out2, _ := Reconcile(v, key, t0)
	if fmt.Sprint(out1) != fmt.Sprint(out2) {
		t.Fatal("not deterministic")
	}
	// Shrinking to 50 pods: slices beyond the first go.
	for i := 50; i < 250; i++ {
		ref := events.Ref{Resource: "pods", Namespace: "default", Name: fmt.Sprintf("p%03d", i)}
		o, _ := v.Get(ref)
		v.Apply(events.Event{Type: events.ObjectDeleted, Ref: ref, Data: o.Raw})
	}
	v.reconcile()
	if sl := v.slices(); len(sl) != 1 || len(sl[0].Endpoints) != 50 {
		t.Fatalf("after shrinking: %d slices", len(sl))
	}
	// The Service goes: so do its slices.
	so, _ := v.Get(key)
	v.Apply(events.Event{Type: events.ObjectDeleted, Ref: key, Data: so.Raw})
	v.reconcile()
	if sl := v.slices(); len(sl) != 0 {
		t.Fatalf("%d slices left", len(sl))
	}
}

func TestThousandsOfEndpoints(t *testing.T) {
	v := newView(t)
	v.Put("services", svc(nil))
	for i := range 5000 {
		v.Put("pods", pod(fmt.Sprintf("p%04d", i), fmt.Sprintf("10.%d.%d.%d", 1+i/62500, i/250%250, i%250+1), i%2 == 0, nil))
	}
	out := v.reconcile()
	if len(out) != 50 {
		t.Fatalf("%d appends, want 50 slices", len(out))
	}
	for _, a := range out {
		if len(a.Event.Data) > 256<<10 {
			t.Fatalf("slice of %d bytes", len(a.Event.Data))
		}
	}
}
