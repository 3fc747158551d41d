package ipam

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
	"github.com/wakehq/wake/services/reconcile/reconciletest"
)

// fakeView is the shared in-memory view.
type fakeView struct{ *reconciletest.View }

func newView(t *testing.T) *fakeView { return &fakeView{reconciletest.NewView(t)} }

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func TestParseIPRange(t *testing.T) {
	for _, bad := range []string{"", "10.96.0.1/12", "10.0.0.0/7", "fd00::/64", "10.96.0.0/31", "nonsense"} {
		if _, err := ParseIPRange(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	r, err := ParseIPRange("10.96.0.0/12")
	if err != nil || r.First().String() != "10.96.0.1" {
		t.Fatal(r, err)
	}
	for ip, want := range map[string]bool{"10.96.0.0": false, "10.96.0.1": true, "10.111.255.254": true, "10.111.255.255": false, "10.112.0.1": false, "fd00::1": false} {
		if got := r.Contains(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Contains(%s) = %v", ip, got)
		}
	}
}

func TestCandidatesCoverTheRangeOnce(t *testing.T) {
	r, _ := ParseIPRange("192.168.0.0/28")
	seen := map[netip.Addr]bool{}
	for a := range r.Candidates("default/web") {
		if seen[a] || !r.Contains(a) || a == r.First() {
			t.Fatalf("candidate %s repeated, outside or the first", a)
		}
		seen[a] = true
	}
	if len(seen) != 13 {
		t.Fatalf("%d candidates, want 13", len(seen))
	}
	first := func(seed string) netip.Addr {
		for a := range r.Candidates(seed) {
			return a
		}
		return netip.Addr{}
	}
	if first("default/web") != first("default/web") {
		t.Fatal("candidates are not deterministic")
	}
	p, _ := ParsePortRange(DefaultNodePortRange)
	n := 0
	for port := range p.Candidates("x") {
		if !p.Contains(port) {
			t.Fatalf("port %d", port)
		}
		n++
	}
	if n != 2768 {
		t.Fatalf("%d ports", n)
	}
}

func TestRepair(t *testing.T) {
	v := newView(t)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10",
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}}}
	data, _ := json.Marshal(svc)
	svcRef := events.Ref{Resource: "services", Namespace: "default", Name: "web"}
	v.Apply(events.Event{Type: events.ObjectCreated, Ref: svcRef, Data: data})
	owner := OwnerOf(svc)
	held := IPRef(netip.MustParseAddr("10.96.0.10"))
	orphan := IPRef(netip.MustParseAddr("10.96.0.11"))
	port := PortRef(30080)
	for _, ref := range []events.Ref{held, orphan, port} {
		v.Apply(Event(ref, owner, t0))
	}
	tests := []struct {
		ref  events.Ref
		at   time.Time
		want int
	}{
		{held, t0.Add(time.Hour), 0},
		{port, t0.Add(time.Hour), 0},
		{orphan, t0.Add(time.Second), 0}, // young: a create may be in flight
		{orphan, t0.Add(Grace), 1},
	}
	for _, tt := range tests {
		out, err := Reconcile(v, tt.ref, tt.at)
		if err != nil || len(out) != tt.want {
			t.Fatalf("%s at %v: %v %v", tt.ref, tt.at, out, err)
		}
	}
	if got := orphans(v); len(got) != 1 || got[0] != orphan {
		t.Fatalf("orphans %v", got)
	}
	// The Service is deleted (by a controller): all its records go.
	v.Apply(events.Event{Type: events.ObjectDeleted, Ref: svcRef, Data: data})
	svcObj, _ := projections.BuildObject(events.Event{Ref: svcRef, Data: data})
	keys := Keys(projections.Change{Type: projections.Deleted, Object: svcObj, Prev: svcObj})
	if len(keys) != 2 {
		t.Fatalf("keys %v", keys)
	}
	for _, k := range keys {
		out, _ := Reconcile(v, k, t0.Add(time.Hour))
		if len(out) != 1 || out[0].Event.Type != events.ObjectDeleted {
			t.Fatalf("%s: %v", k, out)
		}
		v.Run(out)
	}
}

var _ reconcile.Append
