package nodeipam

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile/reconciletest"
)

var t0 = metav1.Unix(1777636800, 0).UTC()

func node(name, cidr string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)}}
	n.Spec.PodCIDR = cidr
	if cidr != "" {
		n.Spec.PodCIDRs = []string{cidr}
	}
	return n
}

func podCIDR(t *testing.T, v *reconciletest.View, name string) string {
	t.Helper()
	o, ok := v.Get(events.Ref{Resource: "nodes", Name: name})
	if !ok {
		t.Fatalf("node %s gone", name)
	}
	var n corev1.Node
	json.Unmarshal(o.Raw, &n)
	if len(n.Spec.PodCIDRs) > 0 && n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
		t.Fatalf("podCIDRs %v disagree with podCIDR %s", n.Spec.PodCIDRs, n.Spec.PodCIDR)
	}
	return n.Spec.PodCIDR
}

func reconcileNode(t *testing.T, a *Allocator, v *reconciletest.View, name string) {
	t.Helper()
	out, err := a.Reconcile(v, events.Ref{Resource: "nodes", Name: name}, t0)
	if err != nil {
		t.Fatal(err)
	}
	v.Run(out)
	if again, _ := a.Reconcile(v, events.Ref{Resource: "nodes", Name: name}, t0); len(again) != 0 {
		t.Fatalf("steady state appended %+v", again)
	}
}

func TestNew(t *testing.T) {
	for _, tt := range []struct {
		cidr string
		size int
		err  string
	}{
		{"10.244.0.0/16", 24, ""},
		{"10.0.0.0/8", 24, ""},
		{"10.244.0.0/16", 30, ""},
		{"10.244.0.1/16", 24, "host bits are set (did you mean 10.244.0.0/16?)"},
		{"10.244.0.0/33", 24, "cluster CIDR"},
		{"banana", 24, "cluster CIDR"},
		{"fd00::/48", 64, "only IPv4"},
		{"10.244.0.0/24", 24, "mask size 24"},
		{"10.244.0.0/16", 31, "mask size 31"},
		{"0.0.0.0/0", 30, "at most 2^24"},
	} {
		_, err := New(tt.cidr, tt.size)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("New(%s, %d) = %v, want %q", tt.cidr, tt.size, err, tt.err)
		}
	}
}

func TestAllocates(t *testing.T) {
	a, _ := New(DefaultClusterCIDR, DefaultNodeMaskSize)
	v := reconciletest.NewView(t)
	v.Put("nodes", node("n1", ""))
	reconcileNode(t, a, v, "n1")
	if got := podCIDR(t, v, "n1"); got != "10.244.0.0/24" {
		t.Fatalf("first node got %q, want 10.244.0.0/24 (wake up's)", got)
	}
	// Ranges set by others are never given out again, nor anything
	// overlapping them; a node that has a range keeps it.
	v.Put("nodes", node("admin", "10.244.1.0/24"))
	v.Put("nodes", node("wide", "10.244.2.0/23")) // holds .2 and .3
	v.Put("nodes", node("outside", "192.168.0.0/24"))
	for _, n := range []string{"n2", "n3"} {
		v.Put("nodes", node(n, ""))
		reconcileNode(t, a, v, n)
	}
	if got := podCIDR(t, v, "n2"); got != "10.244.4.0/24" {
		t.Errorf("n2 got %s, want 10.244.4.0/24", got)
	}
	if got := podCIDR(t, v, "n3"); got != "10.244.5.0/24" {
		t.Errorf("n3 got %s, want 10.244.5.0/24", got)
	}
	reconcileNode(t, a, v, "admin")
	if got := podCIDR(t, v, "admin"); got != "10.244.1.0/24" {
		t.Errorf("a node's range changed: %s", got)
	}
}

// TestNoDuplicates gives many nodes a range in every order of keys and
// checks that no two share one, and that the same order (a replay) gives
// the same assignment.
func TestNoDuplicates(t *testing.T) {
	a, _ := New("10.0.0.0/20", 26) // 64 ranges
	assign := func(order []int) map[string]string {
		v := reconciletest.NewView(t)
		for i := range 64 {
			v.Put("nodes", node(fmt.Sprintf("n%02d", i), ""))
		}
		for _, i := range order {
			reconcileNode(t, a, v, fmt.Sprintf("n%02d", i))
		}
		out := map[string]string{}
		seen := map[string]string{}
		for i := range 64 {
			name := fmt.Sprintf("n%02d", i)
			c := podCIDR(t, v, name)
			if c == "" {
				t.Fatalf("%s got no range", name)
			}
			if other, dup := seen[c]; dup {
				t.Fatalf("%s and %s share %s", name, other, c)
			}
			seen[c], out[name] = name, c
		}
		return out
	}
	var fwd, rev []int
	for i := range 64 {
		fwd, rev = append(fwd, i), append(rev, 63-i)
	}
	first, replay := assign(rev), assign(rev)
	for k := range first {
		if first[k] != replay[k] {
			t.Fatalf("replay differs for %s: %s then %s", k, first[k], replay[k])
		}
	}
	if f := assign(fwd); f["n00"] != "10.0.0.0/26" || f["n63"] != "10.0.15.192/26" {
		t.Errorf("in order: n00 %s, n63 %s", f["n00"], f["n63"])
	}
}

func TestExhaustedAndConflict(t *testing.T) {
	a, _ := New("10.9.0.0/23", 24) // two ranges
	v := reconciletest.NewView(t)
	v.Put("nodes", node("a", "10.9.0.0/24"))
	v.Put("nodes", node("b", "10.9.1.0/24"))
	v.Put("nodes", node("c", ""))
	out, err := a.Reconcile(v, events.Ref{Resource: "nodes", Name: "c"}, t0)
	if err != nil || len(out) != 1 || out[0].Event.Ref.Resource != "events" {
		t.Fatalf("exhausted: %+v, %v; want one Event", out, err)
	}
	var ev corev1.Event
	json.Unmarshal(out[0].Event.Data, &ev)
	if ev.Reason != "CIDRNotAvailable" || ev.Type != corev1.EventTypeWarning || ev.InvolvedObject.Name != "c" || !strings.Contains(ev.Message, "all ranges of 10.9.0.0/23") {
		t.Errorf("event = %+v", ev)
	}
	v.Run(out)
	if again, _ := a.Reconcile(v, events.Ref{Resource: "nodes", Name: "c"}, t0); len(again) != 0 {
		t.Errorf("the same event was written again: %+v", again)
	}
	// A deleted node frees its range; the waiting node is keyed again.
	o, _ := v.Get(events.Ref{Resource: "nodes", Name: "b"})
	v.Apply(events.Event{Type: events.ObjectDeleted, Ref: o.Ref, Data: o.Raw})
	keys := Keys(v, projections.Change{Type: projections.Deleted, Object: o})
	if len(keys) != 1 || keys[0].Name != "c" {
		t.Fatalf("keys after a deletion: %v", keys)
	}
	reconcileNode(t, a, v, "c")
	if got := podCIDR(t, v, "c"); got != "10.9.1.0/24" {
		t.Errorf("c got %s after b left", got)
	}
	// Two nodes given one range by hand: a Warning on each, nothing changed.
	v.Put("nodes", node("dup", "10.9.1.128/25"))
	out, _ = a.Reconcile(v, events.Ref{Resource: "nodes", Name: "dup"}, t0)
	if len(out) != 1 || !strings.Contains(string(out[0].Event.Data), "PodCIDRConflict") {
		t.Errorf("conflict: %+v", out)
	}
}

func TestFree(t *testing.T) {
	a, _ := New("10.244.0.0/16", 24)
	if _, ok := a.Free([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); ok {
		t.Error("a range inside a used /8")
	}
	p, ok := a.Free([]netip.Prefix{netip.MustParsePrefix("10.244.0.0/17")})
	if !ok || p.String() != "10.244.128.0/24" {
		t.Errorf("after a used /17: %s %v", p, ok)
	}
	p, _ = a.Free([]netip.Prefix{netip.MustParsePrefix("10.244.0.7/32")})
	if p.String() != "10.244.1.0/24" {
		t.Errorf("after a used /32 in the first range: %s", p)
	}
}

func TestKeysAndGone(t *testing.T) {
	a, _ := New(DefaultClusterCIDR, DefaultNodeMaskSize)
	v := reconciletest.NewView(t)
	if out, err := a.Reconcile(v, events.Ref{Resource: "nodes", Name: "gone"}, t0); err != nil || len(out) != 0 {
		t.Errorf("a missing node: %v, %v", out, err)
	}
	pod := &projections.Object{Ref: events.Ref{Resource: "pods", Namespace: "default", Name: "p"}}
	if keys := Keys(v, projections.Change{Type: projections.Added, Object: pod}); len(keys) != 0 {
		t.Errorf("a pod change keyed %v", keys)
	}
	n := &projections.Object{Ref: events.Ref{Resource: "nodes", Name: "n1"}}
	if keys := Keys(v, projections.Change{Type: projections.Modified, Object: n}); len(keys) != 1 || keys[0] != n.Ref {
		t.Errorf("a node change keyed %v", keys)
	}
}
