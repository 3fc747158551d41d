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
)

type fakeView struct {
	t     *testing.T
	state *projections.State
}

func newView(t *testing.T) *fakeView { return &fakeView{t: t, state: projections.NewState()} }

func (v *fakeView) Get(ref events.Ref) (*projections.Object, bool) { return v.state.Get(ref) }
func (v *fakeView) List(g, r, ns string) ([]*projections.Object, uint64) {
	return v.state.List(g, r, ns), v.state.Seq()
}
func (v *fakeView) Seq() uint64 { return v.state.Seq() }

func (v *fakeView) put(resource string, obj metav1.Object) {
	v.t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		v.t.Fatal(err)
	}
	ref := events.Ref{Resource: resource, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	typ := events.ObjectCreated
	if _, ok := v.state.Get(ref); ok {
		typ = events.ObjectUpdated
	}
	v.apply(events.Event{Type: typ, Ref: ref, Data: data})
}

func (v *fakeView) apply(ev events.Event) {
	v.t.Helper()
	ev.Seq = v.state.Seq() + 1
	if _, err := v.state.Apply(ev); err != nil {
		v.t.Fatal(err)
	}
}

func (v *fakeView) run(appends []reconcile.Append) {
	v.t.Helper()
	for _, a := range appends {
		cur, ok := v.state.Get(a.Event.Ref)
		if ok && cur.Seq != a.Expect || !ok && a.Expect != 0 {
			v.t.Fatalf("append to %s expects %d, object is at %v", a.Event.Ref, a.Expect, cur)
		}
		v.apply(a.Event)
	}
}

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
				v.put("nodes", n)
			}
			v.put("services", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: "default"},
				Spec: corev1.ServiceSpec{Type: tt.typ, LoadBalancerClass: tt.class}})
			out, err := Reconcile(v, key, t0)
			if err != nil {
				t.Fatal(err)
			}
			v.run(out)
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
	v.put("services", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}})
	v.put("services", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: "default"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}})
	n, _ := json.Marshal(node("a", "192.0.2.1", true))
	o, _ := projections.BuildObject(events.Event{Ref: events.Ref{Resource: "nodes", Name: "a"}, Data: n})
	if got := Keys(v, projections.Change{Type: projections.Added, Object: o}); len(got) != 1 || got[0].Name != "lb" {
		t.Fatalf("keys %v", got)
	}
}

func equal(a, b []string) bool { return slices.Equal(a, b) }

var _ = reconcile.Append{}
