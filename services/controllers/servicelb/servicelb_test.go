package servicelb

import (
	"encoding/json"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
	"github.com/wakehq/wake/services/reconcile/reconciletest"
)

// fakeView is the shared in-memory view.
type fakeView struct{ *reconciletest.View }

func newView(t *testing.T) *fakeView { return &fakeView{reconciletest.NewView(t)} }

var t0 = metav1.Unix(1777636800, 0).UTC()

func node(name, ip string, ready bool) *corev1.Node {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}},
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}}}}
}

func TestReconcile(t *testing.T) {
	key := events.Ref{Resource: "services", Namespace: "default", Name: "lb"}
	ingress := func(v *fakeView) []string {
		o, _ := v.Get(key)
		var s corev1.Service
		json.Unmarshal(o.Raw, &s)
		var out []string
		for _, i := range s.Status.LoadBalancer.Ingress {
			out = append(out, i.IP)
		}
		return out
	}
	tests := []struct {
		name  string
		typ   corev1.ServiceType
		class *string
		nodes []*corev1.Node
		want  []string
	}{
		{"no node", corev1.ServiceTypeLoadBalancer, nil, nil, nil},
		{"ready nodes, sorted", corev1.ServiceTypeLoadBalancer, nil, []*corev1.Node{node("b", "192.0.2.9", true), node("a", "192.0.2.10", true), node("c", "192.0.2.11", false)}, []string{"192.0.2.9", "192.0.2.10"}},
		{"not a load balancer", corev1.ServiceTypeClusterIP, nil, []*corev1.Node{node("a", "192.0.2.10", true)}, nil},
		{"another class", corev1.ServiceTypeLoadBalancer, ptr.To("other"), []*corev1.Node{node("a", "192.0.2.10", true)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newView(t)
			for _, n := range tt.nodes {
				v.Put("nodes", n)
			}
			v.Put("services", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: "default"},
				Spec: corev1.ServiceSpec{Type: tt.typ, LoadBalancerClass: tt.class}})
			out, err := Reconcile(v, key, t0)
			if err != nil {
				t.Fatal(err)
			}
			v.Run(out)
			if got := ingress(v); !equal(got, tt.want) {
				t.Fatalf("ingress %v, want %v", got, tt.want)
			}
			if out, _ := Reconcile(v, key, t0); len(out) != 0 {
				t.Fatalf("steady state appended %v", out)
			}
		})
	}
}

func TestKeysOnNodeChange(t *testing.T) {
	v := newView(t)
	v.Put("services", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}})
	v.Put("services", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}})
	n, _ := json.Marshal(node("a", "192.0.2.1", true))
	o, _ := projections.BuildObject(events.Event{Ref: events.Ref{Resource: "nodes", Name: "a"}, Data: n})
	if got := Keys(v, projections.Change{Type: projections.Added, Object: o}); len(got) != 1 || got[0].Name != "lb" {
		t.Fatalf("keys %v", got)
	}
}

func equal(a, b []string) bool { return slices.Equal(a, b) }

var _ = reconcile.Append{}
