package network

import (
	"net/netip"
	"testing"
)

func TestLeases(t *testing.T) {
	n := &Network{prefix: netip.MustParsePrefix("10.9.0.0/30"), gw: netip.MustParseAddr("10.9.0.1"), ipam: t.TempDir()}
	a, err := n.Lease("pod-a")
	if err != nil || a.String() != "10.9.0.2" {
		t.Fatalf("first lease = %s, %v", a, err)
	}
	if again, _ := n.Lease("pod-a"); again != a {
		t.Errorf("a pod's second lease changed its address: %s", again)
	}
	if _, err := n.Lease("pod-b"); err == nil {
		t.Error("a /30 gave out a second pod address (the broadcast)")
	}
	if err := n.Release("pod-a"); err != nil {
		t.Fatal(err)
	}
	if b, err := n.Lease("pod-b"); err != nil || b != a {
		t.Errorf("released address not reused: %s, %v", b, err)
	}
	if len(HostVeth("any-uid")) > 15 {
		t.Error("veth name longer than IFNAMSIZ")
	}
}
