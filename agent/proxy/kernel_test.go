package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// testNS is a fresh network namespace with lo up, a veth pair eth0/eth1
// (eth0: 192.168.77.1/24, default route) and two backend addresses on eth0.
type testNS struct {
	ns netns.NsHandle
}

func needRoot(t testing.TB) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace and programs nftables in it")
	}
}

func newTestNS(t testing.TB) *testNS {
	n, h := bareNS(t)
	la := netlink.NewLinkAttrs()
	la.Name = "eth0"
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth1"}); err != nil {
		t.Fatal(err)
	}
	d, _ := h.LinkByName("eth0")
	peer, _ := h.LinkByName("eth1")
	if err := h.LinkSetUp(peer); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"192.168.77.1/24", "10.244.0.2/32", "10.244.0.3/32"} {
		addr, _ := netlink.ParseAddr(a)
		if err := h.AddrAdd(d, addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.LinkSetUp(d); err != nil {
		t.Fatal(err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: d.Attrs().Index, Gw: net.ParseIP("192.168.77.254")}); err != nil {
		t.Fatal(err)
	}
	return n
}

// do runs fn on a thread inside the namespace (sockets made there stay there).
func (n *testNS) do(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(n.ns); err != nil {
			panic(err)
		}
		fn()
	}()
	<-done
}

func (n *testNS) conn() (*nftables.Conn, error) {
	return nftables.New(ConnOptions(nftables.WithNetNSFd(int(n.ns)))...)
}

// serve answers every connection to addr with name.
func (n *testNS) serve(t testing.TB, addr, name string) {
	var l net.Listener
	var err error
	n.do(func() { l, err = net.Listen("tcp", addr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(name))
			c.Close()
		}
	}()
}

// dial connects to addr count times and counts who answered.
func (n *testNS) dial(addr string, count int) (map[string]int, error) {
	seen := map[string]int{}
	var err error
	n.do(func() {
		for range count {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", addr, time.Second); err != nil {
				return
			}
			b, _ := io.ReadAll(c)
			c.Close()
			seen[string(b)]++
		}
	})
	return seen, err
}

// fakeView is a projection that is ready without a log.
type fakeView struct {
	*projections.Projection
	seq uint64
}

func (v *fakeView) Ready() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func (v *fakeView) put(t testing.TB, typ events.Type, ref events.Ref, raw []byte) uint64 {
	v.seq++
	v.Apply(events.Event{Seq: v.seq, Type: typ, Ref: ref, Data: raw})
	return v.seq
}

func runProxy(t testing.TB, n *testNS, v *fakeView) (*Proxy, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	p := New(Config{View: v, Conn: n.conn})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("proxy: %v", err)
		}
	}
	return p, stop
}

func TestKernelClusterIP(t *testing.T) {
	n := newTestNS(t)
	n.serve(t, "10.244.0.2:8080", "a")
	n.serve(t, "10.244.0.3:8080", "b")
	v := &fakeView{Projection: projections.New(projections.Options{})}
	v.put(t, events.ObjectCreated, svcRef("default", "web"), service("default", "web", "NodePort", "10.96.0.10", port{Port: 80, NodePort: 30080}))
	v.put(t, events.ObjectCreated, svcRef("default", "empty"), service("default", "empty", "ClusterIP", "10.96.0.11", port{Port: 80}))
	seq := v.put(t, events.ObjectCreated, sliceRef("default", "web-a"), endpointSlice("default", "web-a", "web", "IPv4",
		[]ep{{"10.244.0.2", nil}, {"10.244.0.3", nil}}, port{Port: 8080}))

	p, stop := runProxy(t, n, v)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, seq); err != nil {
		t.Fatal(err)
	}
	seen, err := n.dial("10.96.0.10:80", 200)
	if err != nil || seen["a"] < 50 || seen["b"] < 50 {
		t.Fatalf("through the ClusterIP: %v, %v; want both backends about half the time", seen, err)
	}
	t.Logf("200 connections: %v", seen)
	if seen, err := n.dial("192.168.77.1:30080", 100); err != nil || seen["a"] < 20 || seen["b"] < 20 {
		t.Fatalf("through the NodePort: %v, %v; want both backends", seen, err)
	}

	_, err = n.dial("10.96.0.11:80", 1)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("service without endpoints: %v, want connection refused", err)
	}

	// Remove one endpoint: every connection after the rules are live goes to b.
	seq = v.put(t, events.ObjectUpdated, sliceRef("default", "web-a"), endpointSlice("default", "web-a", "web", "IPv4",
		[]ep{{"10.244.0.2", no}, {"10.244.0.3", nil}}, port{Port: 8080}))
	if err := p.WaitFor(ctx, seq); err != nil {
		t.Fatal(err)
	}
	if seen, err := n.dial("10.96.0.10:80", 100); err != nil || seen["b"] != 100 {
		t.Fatalf("after removing a: %v, %v; want only b", seen, err)
	}

	// A new proxy (an agent restart) replaces the table in one transaction;
	// the rules are there before it runs and after.
	stop()
	if seen, err := n.dial("10.96.0.10:80", 20); err != nil || seen["b"] != 20 {
		t.Fatalf("with the proxy stopped: %v, %v", seen, err)
	}
	seq = v.put(t, events.ObjectUpdated, sliceRef("default", "web-a"), endpointSlice("default", "web-a", "web", "IPv4",
		[]ep{{"10.244.0.2", nil}, {"10.244.0.3", nil}}, port{Port: 8080}))
	p2, stop2 := runProxy(t, n, v)
	defer stop2()
	if err := p2.WaitFor(ctx, seq); err != nil {
		t.Fatal(err)
	}
	if seen, err := n.dial("10.96.0.10:80", 200); err != nil || seen["a"] < 50 || seen["b"] < 50 {
		t.Fatalf("after the restart: %v, %v", seen, err)
	}
	if p.Failures()+p2.Failures() != 0 {
		t.Errorf("%d failed updates", p.Failures()+p2.Failures())
	}
}

// A transaction the kernel refuses leaves the previous rules live.
func TestKernelFailedUpdateKeepsRules(t *testing.T) {
	n := newTestNS(t)
	n.serve(t, "10.244.0.2:8080", "a")
	n.serve(t, "10.244.0.3:8080", "b")
	conn, err := n.conn()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLasting()
	k := NewKernel(conn)
	two := ServicePort{Name: "default/web:80", ClusterIP: netip.MustParseAddr("10.96.0.10"), Protocol: protoTCP, Port: 80,
		Endpoints: epList(8080, "10.244.0.2", "10.244.0.3")}
	if err := k.Replace(map[string][]ServicePort{"default/web": {two}}); err != nil {
		t.Fatal(err)
	}
	// Someone else holds a reference to a's endpoint chain: deleting it fails.
	pin := conn.AddChain(&nftables.Chain{Name: "pin", Table: k.table})
	conn.AddRule(&nftables.Rule{Table: k.table, Chain: pin, Exprs: []expr.Any{
		&expr.Verdict{Kind: expr.VerdictJump, Chain: two.EndpointChain(two.Endpoints[0])}}})
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	one := two
	one.Endpoints = epList(8080, "10.244.0.3")
	if err := k.Update(map[string][]ServicePort{"default/web": {one}}); err == nil {
		t.Fatal("the kernel accepted deleting a chain still referenced")
	}
	if seen, err := n.dial("10.96.0.10:80", 100); err != nil || seen["a"] < 20 || seen["b"] < 20 {
		t.Fatalf("after the failed update: %v, %v; want the previous rules (both backends)", seen, err)
	}
	conn.DelTable(k.table)
	conn.Flush()
	if err := k.Replace(map[string][]ServicePort{"default/web": {one}}); err != nil {
		t.Fatal(err)
	}
	if seen, err := n.dial("10.96.0.10:80", 20); err != nil || seen["b"] != 20 {
		t.Fatalf("after the retry: %v, %v", seen, err)
	}
}

func TestKernelSessionAffinity(t *testing.T) {
	n := newTestNS(t)
	n.serve(t, "10.244.0.2:8080", "a")
	n.serve(t, "10.244.0.3:8080", "b")
	conn, err := n.conn()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLasting()
	k := NewKernel(conn)
	sp := ServicePort{Name: "default/web:80", ClusterIP: netip.MustParseAddr("10.96.0.10"), Protocol: protoTCP, Port: 80,
		Endpoints: epList(8080, "10.244.0.2", "10.244.0.3"), AffinitySeconds: 60}
	if err := k.Replace(map[string][]ServicePort{"default/web": {sp}}); err != nil {
		t.Fatal(err)
	}
	if seen, err := n.dial("10.96.0.10:80", 50); err != nil || len(seen) != 1 {
		t.Fatalf("with ClientIP affinity: %v, %v; want one backend for one client", seen, err)
	}
	// Dropping affinity (an update) balances again; and back.
	sp.AffinitySeconds = 0
	if err := k.Update(map[string][]ServicePort{"default/web": {sp}}); err != nil {
		t.Fatal(err)
	}
	if seen, err := n.dial("10.96.0.10:80", 100); err != nil || len(seen) != 2 {
		t.Fatalf("without affinity: %v, %v", seen, err)
	}
	sp.AffinitySeconds = 30
	if err := k.Update(map[string][]ServicePort{"default/web": {sp}}); err != nil {
		t.Fatal(err)
	}
	if seen, err := n.dial("10.96.0.10:80", 50); err != nil || len(seen) != 1 {
		t.Fatalf("with affinity again: %v, %v", seen, err)
	}
	if err := k.Update(map[string][]ServicePort{"default/web": nil}); err != nil {
		t.Fatalf("removing a service with affinity: %v", err)
	}
}
