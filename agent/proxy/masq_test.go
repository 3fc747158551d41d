package proxy

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// bareNS is a new network namespace with lo up and a netlink handle.
func bareNS(t testing.TB) (*testNS, *netlink.Handle) {
	t.Helper()
	needRoot(t)
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
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	lo, _ := h.LinkByName("lo")
	if err := h.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	return &testNS{ns: ns}, h
}

// wire links a (interface an, address aAddr) and b with a veth pair.
func wire(t *testing.T, ha *netlink.Handle, an, aAddr string, b *testNS, hb *netlink.Handle, bn, bAddr string) {
	t.Helper()
	la := netlink.NewLinkAttrs()
	la.Name = an
	if err := ha.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: bn, PeerNamespace: netlink.NsFd(int(b.ns))}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		h    *netlink.Handle
		name string
		addr string
	}{{ha, an, aAddr}, {hb, bn, bAddr}} {
		l, err := s.h.LinkByName(s.name)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := netlink.ParseAddr(s.addr)
		if err := s.h.AddrAdd(l, a); err != nil {
			t.Fatal(err)
		}
		if err := s.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

func route(t testing.TB, h *netlink.Handle, dst, via string) {
	t.Helper()
	r := &netlink.Route{Gw: net.ParseIP(via)}
	if dst != "" {
		_, r.Dst, _ = net.ParseCIDR(dst)
	}
	if err := h.RouteAdd(r); err != nil {
		t.Fatalf("route %s via %s: %v", dst, via, err)
	}
}

// remoteOf listens on addr in n and returns a function that dials it (or
// another address leading there) from client and reports the source
// address the listener saw.
func remoteOf(t *testing.T, n *testNS, addr string, client *testNS) func(via ...string) (string, error) {
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
			ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
			c.Write([]byte(ap.Addr().String()))
			c.Close()
		}
	}()
	return func(via ...string) (string, error) {
		var got []byte
		var err error
		to := addr
		if len(via) > 0 {
			to = via[0]
		}
		client.do(func() {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", to, time.Second); err != nil {
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(time.Second))
			buf := make([]byte, 64)
			k, rerr := c.Read(buf)
			got, err = buf[:k], rerr
		})
		return string(got), err
	}
}

// TestMasquerade: a pod behind the node reaches an outside address with
// the node's address, and a pod on another node with its own, directly or
// through a ClusterIP (DNAT here, routed there, the reply un-NATed here).
//
//	pod 10.244.0.2 ── node (table wake) ── 192.168.66.0/24 ── other node
//	                  10.244.0.1               .1      .2     pods 10.244.1.1
func TestMasquerade(t *testing.T) {
	node, hn := bareNS(t)
	pod, hp := bareNS(t)
	other, ho := bareNS(t)
	wire(t, hn, "pod0", "10.244.0.1/24", pod, hp, "eth0", "10.244.0.2/24")
	wire(t, hn, "eth0", "192.168.66.1/24", other, ho, "eth0", "192.168.66.2/24")
	route(t, hp, "", "10.244.0.1")
	route(t, hn, "10.244.1.0/24", "192.168.66.2") // host-gateway routes both ways
	route(t, ho, "10.244.0.0/24", "192.168.66.1")
	la := netlink.NewLinkAttrs()
	la.Name = "pods"
	if err := ho.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil {
		t.Fatal(err)
	}
	br, _ := ho.LinkByName("pods")
	a, _ := netlink.ParseAddr("10.244.1.1/24")
	ho.AddrAdd(br, a)
	ho.LinkSetUp(br)
	node.do(func() {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
			t.Errorf("ip_forward: %v", err)
		}
	})

	conn, err := nftables.New(ConnOptions(nftables.WithNetNSFd(int(node.ns)))...)
	if err != nil {
		t.Fatal(err)
	}
	k := NewKernel(conn)
	k.ClusterCIDR = netip.MustParsePrefix("10.244.0.0/16")
	// A Service whose endpoint is the pod on the other node.
	sp := ServicePort{Name: "default/far:80", ClusterIP: netip.MustParseAddr("10.96.0.20"), Protocol: unix.IPPROTO_TCP, Port: 80,
		Endpoints: epList(7002, "10.244.1.1")}
	if err := k.Replace(map[string][]ServicePort{"default/far": {sp}}); err != nil {
		t.Fatal(err)
	}
	outside := remoteOf(t, other, "192.168.66.2:7001", pod)
	peerPod := remoteOf(t, other, "10.244.1.1:7002", pod)
	if got, err := outside(); err != nil || got != "192.168.66.1" {
		t.Errorf("pod → outside: seen from %q (%v), want the node's 192.168.66.1", got, err)
	}
	if got, err := peerPod(); err != nil || got != "10.244.0.2" {
		t.Errorf("pod → pod on another node: seen from %q (%v), want the pod's own 10.244.0.2", got, err)
	}
	if got, err := peerPod("10.96.0.20:80"); err != nil || got != "10.244.0.2" {
		t.Errorf("pod → ClusterIP → pod on another node: seen from %q (%v), want the pod's own 10.244.0.2", got, err)
	}

	// Without a cluster CIDR there is no masquerade (the other node routes
	// pod CIDRs back, so it answers the pod's own address).
	k2 := NewKernel(conn)
	if err := k2.Replace(nil); err != nil {
		t.Fatal(err)
	}
	if got, err := outside(); err != nil || got != "10.244.0.2" {
		t.Errorf("without a cluster CIDR: seen from %q (%v), want the pod's own address", got, err)
	}
}
