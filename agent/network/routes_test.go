package network

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

func TestPlanRoutes(t *testing.T) {
	pfx := netip.MustParsePrefix
	ip := netip.MustParseAddr
	own := pfx("10.244.0.0/24")
	routes, problems := PlanRoutes(own, []Peer{
		{Node: "c", CIDRs: []netip.Prefix{pfx("10.244.2.0/24")}, IP: ip("192.0.2.3")},
		{Node: "b", CIDRs: []netip.Prefix{pfx("10.244.1.0/24")}, IP: ip("192.0.2.2")},
		{Node: "waiting", IP: ip("192.0.2.9")},                                              // no range yet
		{Node: "noip", CIDRs: []netip.Prefix{pfx("10.244.5.0/24")}},                         // no address
		{Node: "clash", CIDRs: []netip.Prefix{pfx("10.244.0.128/25")}, IP: ip("192.0.2.4")}, // overlaps own
		{Node: "d", CIDRs: []netip.Prefix{pfx("10.244.2.0/23")}, IP: ip("192.0.2.5")},       // overlaps c's
		{Node: "v6", CIDRs: []netip.Prefix{pfx("fd00::/64"), pfx("10.244.7.0/24")}, IP: ip("192.0.2.7")},
	})
	var got []string
	for _, r := range routes {
		got = append(got, r.String())
	}
	want := []string{"10.244.1.0/24 via 192.0.2.2 (node b)", "10.244.2.0/24 via 192.0.2.3 (node c)", "10.244.7.0/24 via 192.0.2.7 (node v6)"}
	if !slices.Equal(got, want) {
		t.Errorf("routes\n got %v\nwant %v", got, want)
	}
	var nodes []string
	for _, p := range problems {
		nodes = append(nodes, p.Node+":"+p.Reason)
	}
	if !slices.Equal(nodes, []string{"clash:PodCIDRConflict", "d:PodCIDRConflict", "noip:NoNodeIP"}) {
		t.Errorf("problems %v", problems)
	}
}

// testNode is a network namespace standing for a node: eth0 on a link
// shared with the other test node, a "pods" bridge holding its pod
// CIDR's first address.
type testNode struct {
	ns netns.NsHandle
	h  *netlink.Handle
}

func newNetns(t *testing.T) netns.NsHandle {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and routes in them")
	}
	done := make(chan error, 1)
	var ns netns.NsHandle
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		var err error
		ns, err = netns.New()
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatalf("new netns: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func (n *testNode) addr(t *testing.T, link, cidr string) {
	t.Helper()
	l, err := n.h.LinkByName(link)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := netlink.ParseAddr(cidr)
	if err := n.h.AddrAdd(l, a); err != nil {
		t.Fatal(err)
	}
	if err := n.h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
}

// twoNodes wires a and b with a veth pair (192.168.150.1 and .2/24) and
// gives them pod CIDRs 10.250.1.0/24 and 10.250.2.0/24.
func twoNodes(t *testing.T) (a, b *testNode) {
	a, b = &testNode{ns: newNetns(t)}, &testNode{ns: newNetns(t)}
	for _, n := range []*testNode{a, b} {
		h, err := netlink.NewHandleAt(n.ns)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		n.h = h
		lo, _ := h.LinkByName("lo")
		h.LinkSetUp(lo)
		la := netlink.NewLinkAttrs()
		la.Name = "pods"
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
			t.Fatal(err)
		}
	}
	la := netlink.NewLinkAttrs()
	la.Name = "eth0"
	if err := a.h.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(b.ns))}); err != nil {
		t.Fatal(err)
	}
	a.addr(t, "eth0", "192.168.150.1/24")
	b.addr(t, "eth0", "192.168.150.2/24")
	a.addr(t, "pods", "10.250.1.1/24")
	b.addr(t, "pods", "10.250.2.1/24")
	return a, b
}

// in runs fn on a thread inside the namespace.
func in(ns netns.NsHandle, fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(ns); err != nil {
			panic(err)
		}
		fn()
	}()
	<-done
}

// reach dials b's pod address from a's, each inside its namespace: it
// succeeds only if both directions are routed.
func reach(t *testing.T, a, b *testNode) error {
	t.Helper()
	var l net.Listener
	var err error
	in(b.ns, func() { l, err = net.Listen("tcp", "10.250.2.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Close()
		}
	}()
	in(a.ns, func() {
		d := net.Dialer{Timeout: 3 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.250.1.1")}}
		var c net.Conn
		if c, err = d.Dial("tcp", l.Addr().String()); err == nil {
			c.Close()
		}
	})
	return err
}

func TestRoutesBetweenNamespaces(t *testing.T) {
	a, b := twoNodes(t)
	pfx := netip.MustParsePrefix
	ip := netip.MustParseAddr
	if err := reach(t, a, b); err == nil {
		t.Fatal("pod CIDRs reachable before any route")
	}
	ra, rb := NewRoutes(a.h), NewRoutes(b.h)
	// a someone else's route must survive Sync
	other := &netlink.Route{Dst: prefixNet(pfx("10.250.3.0/24")), Gw: net.ParseIP("192.168.150.2"), Protocol: 4}
	if err := a.h.RouteAdd(other); err != nil {
		t.Fatal(err)
	}
	want := []Route{
		{Node: "b", Dst: pfx("10.250.2.0/24"), Via: ip("192.168.150.2")},
		{Node: "far", Dst: pfx("10.250.9.0/24"), Via: ip("203.0.113.5")},    // no route to it at all
		{Node: "self", Dst: pfx("10.250.8.0/24"), Via: ip("192.168.150.1")}, // its own address
	}
	problems, err := ra.Sync(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 2 || problems[0].Node != "far" || problems[1].Node != "self" || !strings.Contains(problems[1].Msg, "address of this node") {
		t.Fatalf("problems: %+v", problems)
	}
	if _, err := rb.Sync([]Route{{Node: "a", Dst: pfx("10.250.1.0/24"), Via: ip("192.168.150.1")}}); err != nil {
		t.Fatal(err)
	}
	if err := reach(t, a, b); err != nil {
		t.Fatalf("pod CIDR of b from a's: %v", err)
	}
	have, _ := ra.List()
	if len(have) != 1 {
		t.Fatalf("wake routes in a: %v", have)
	}
	// Idempotent; then a changed next hop replaces the route.
	if _, err := ra.Sync(want[:1]); err != nil {
		t.Fatal(err)
	}
	b.addr(t, "eth0", "192.168.150.3/24")
	if _, err := ra.Sync([]Route{{Node: "b", Dst: pfx("10.250.2.0/24"), Via: ip("192.168.150.3")}}); err != nil {
		t.Fatal(err)
	}
	have, _ = ra.List()
	if r := have[pfx("10.250.2.0/24")]; !r.Gw.Equal(net.ParseIP("192.168.150.3")) {
		t.Fatalf("route after the node's address changed: %v", r)
	}
	if err := reach(t, a, b); err != nil {
		t.Fatalf("after the next hop changed: %v", err)
	}
	// The node leaves: its route goes, someone else's stays.
	if _, err := ra.Sync(nil); err != nil {
		t.Fatal(err)
	}
	if err := reach(t, a, b); err == nil {
		t.Fatal("b's pods still reachable after its route was removed")
	}
	if have, _ := ra.List(); len(have) != 0 {
		t.Errorf("wake routes left: %v", have)
	}
	rs, _ := a.h.RouteList(nil, netlink.FAMILY_V4)
	if !slices.ContainsFunc(rs, func(r netlink.Route) bool { return r.Dst != nil && r.Dst.String() == "10.250.3.0/24" }) {
		t.Error("Sync removed a route that is not wake's")
	}
}
