package endpoints

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
	"github.com/wakehq/wake/services/reconcile/reconciletest"
)

// fakeView is the shared in-memory view.
type fakeView struct{ *reconciletest.View }

func newView(t *testing.T) *fakeView { return &fakeView{reconciletest.NewView(t)} }

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func svc(mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "svc-uid", Labels: map[string]string{"team": "a"}},
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

func ips(as []corev1.EndpointAddress) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.IP)
	}
	return out
}

func TestSubsets(t *testing.T) {
	now := metav1.NewTime(t0)
	tests := []struct {
		name     string
		svc      *corev1.Service
		pods     []*corev1.Pod
		want     string // subsets as "ready|notReady|ports;..."
		truncate bool
	}{
		{"ready and not ready", svc(nil), []*corev1.Pod{pod("b", "10.0.0.2", true, nil), pod("a", "10.0.0.1", true, nil), pod("c", "10.0.0.3", false, nil)},
			"[10.0.0.1 10.0.0.2]|[10.0.0.3]|[http:8080/TCP]", false},
		{"no IP, finished, terminating left out", svc(nil), []*corev1.Pod{
			pod("a", "", true, nil),
			pod("b", "10.0.0.2", true, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
			pod("c", "10.0.0.3", true, func(p *corev1.Pod) { p.DeletionTimestamp = &now }),
			pod("d", "10.0.0.4", true, nil)},
			"[10.0.0.4]|[]|[http:8080/TCP]", false},
		{"publishNotReadyAddresses", svc(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			[]*corev1.Pod{pod("a", "10.0.0.1", false, nil), pod("c", "10.0.0.3", true, func(p *corev1.Pod) { p.DeletionTimestamp = &now })},
			"[10.0.0.1 10.0.0.3]|[]|[http:8080/TCP]", false},
		{"named port missing excludes the pod", svc(nil), []*corev1.Pod{pod("a", "10.0.0.1", true, nil),
			pod("b", "10.0.0.2", true, func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "web" })},
			"[10.0.0.1]|[]|[http:8080/TCP]", false},
		{"ports differ per pod", svc(func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9100)})
		}), []*corev1.Pod{pod("a", "10.0.0.1", true, nil),
			pod("b", "10.0.0.2", true, func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 9000 })},
			"[10.0.0.1]|[]|[http:8080/TCP metrics:9100/TCP];[10.0.0.2]|[]|[http:9000/TCP metrics:9100/TCP]", false},
		{"headless without ports", svc(func(s *corev1.Service) { s.Spec.ClusterIP = "None"; s.Spec.Ports = nil }),
			[]*corev1.Pod{pod("a", "10.0.0.1", true, nil)}, "[10.0.0.1]|[]|[]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, truncated := Subsets(tt.svc, tt.pods)
			var s string
			for i, ss := range got {
				if i > 0 {
					s += ";"
				}
				var ports []string
				for _, p := range ss.Ports {
					ports = append(ports, fmt.Sprintf("%s:%d/%s", p.Name, p.Port, p.Protocol))
				}
				s += fmt.Sprintf("%v|%v|%v", ips(ss.Addresses), ips(ss.NotReadyAddresses), ports)
			}
			if s != tt.want || truncated != tt.truncate {
				t.Errorf("got %s (truncated %v)\nwant %s", s, truncated, tt.want)
			}
		})
	}
}

func TestHostnameAndNode(t *testing.T) {
	p := pod("a", "10.0.0.1", true, func(p *corev1.Pod) { p.Spec.Hostname = "a"; p.Spec.Subdomain = "web" })
	got, _ := Subsets(svc(nil), []*corev1.Pod{p})
	a := got[0].Addresses[0]
	if a.Hostname != "a" || a.NodeName == nil || *a.NodeName != "node-1" || a.TargetRef.Name != "a" {
		t.Fatalf("address %+v", a)
	}
}

func TestTruncation(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 3000 {
		pods = append(pods, pod(fmt.Sprintf("p%04d", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), i%3 != 0, nil))
	}
	got, truncated := Subsets(svc(nil), pods)
	n := 0
	for _, ss := range got {
		n += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	if !truncated || n != MaxAddresses || len(got[0].Addresses) != MaxAddresses {
		t.Fatalf("truncated %v to %d addresses (%d ready)", truncated, n, len(got[0].Addresses))
	}
	v := newView(t)
	v.Put("services", svc(nil))
	for _, p := range pods {
		v.Put("pods", p)
	}
	out, err := Reconcile(v, events.Ref{Resource: "services", Namespace: "default", Name: "web"}, t0)
	if err != nil || len(out) != 1 {
		t.Fatalf("%v %v", out, err)
	}
	if !json.Valid(out[0].Event.Data) || len(out[0].Event.Data) > 1<<20 {
		t.Fatalf("endpoints of %d bytes", len(out[0].Event.Data))
	}
	var ep corev1.Endpoints
	json.Unmarshal(out[0].Event.Data, &ep)
	if ep.Annotations[OverCapacity] != "truncated" {
		t.Fatalf("annotations %v", ep.Annotations)
	}
}

func TestReconcile(t *testing.T) {
	v := newView(t)
	key := events.Ref{Resource: "services", Namespace: "default", Name: "web"}
	epRef := events.Ref{Resource: "endpoints", Namespace: "default", Name: "web"}
	reconcileOnce := func() []reconcile.Append {
		t.Helper()
		out, err := Reconcile(v, key, t0)
		if err != nil {
			t.Fatal(err)
		}
		v.Run(out)
		return out
	}
	v.Put("services", svc(nil))
	v.Put("pods", pod("a", "10.0.0.1", true, nil))
	if out := reconcileOnce(); len(out) != 1 || out[0].Event.Type != events.ObjectCreated {
		t.Fatalf("want a creation, got %v", out)
	}
	var ep corev1.Endpoints
	o, _ := v.Get(epRef)
	json.Unmarshal(o.Raw, &ep)
	if ep.Labels[ManagedByLabel] != ManagedBy || ep.Labels["team"] != "a" || ips(ep.Subsets[0].Addresses)[0] != "10.0.0.1" {
		t.Fatalf("endpoints %+v", ep)
	}
	if out := reconcileOnce(); len(out) != 0 {
		t.Fatalf("steady state appended %v", out)
	}
	v.Put("pods", pod("a", "10.0.0.1", false, nil))
	if out := reconcileOnce(); len(out) != 1 || out[0].Event.Type != events.ObjectUpdated {
		t.Fatalf("want an update, got %v", out)
	}
	o, _ = v.Get(epRef)
	ep = corev1.Endpoints{}
	json.Unmarshal(o.Raw, &ep)
	if len(ep.Subsets[0].Addresses) != 0 || ips(ep.Subsets[0].NotReadyAddresses)[0] != "10.0.0.1" {
		t.Fatalf("not ready pod: %+v", ep.Subsets)
	}

	// Selectorless: left alone.
	v.Put("services", svc(func(s *corev1.Service) { s.Spec.Selector = nil }))
	if out := reconcileOnce(); len(out) != 0 {
		t.Fatalf("selectorless service: %v", out)
	}
	// Deleted: its Endpoints go.
	so, _ := v.Get(key)
	v.Apply(events.Event{Type: events.ObjectDeleted, Ref: key, Data: so.Raw})
	if out := reconcileOnce(); len(out) != 1 || out[0].Event.Type != events.ObjectDeleted {
		t.Fatalf("want deletion, got %v", out)
	}
}

func TestKeys(t *testing.T) {
	v := newView(t)
	v.Put("services", svc(nil))
	v.Put("services", svc(func(s *corev1.Service) { s.Name = "other"; s.Spec.Selector = map[string]string{"app": "other"} }))
	p := &projections.Object{Ref: events.Ref{Resource: "pods", Namespace: "default", Name: "a"}, Labels: map[string]string{"app": "web"}}
	got := Keys(v, projections.Change{Type: projections.Added, Object: p})
	if len(got) != 1 || got[0].Name != "web" {
		t.Fatalf("keys %v", got)
	}
}
