package dns

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeUpstream is a resolver on 127.0.0.1 that answers every A question
// with 192.0.2.1, and "big.example." with more than fits in 512 bytes.
type fakeUpstream struct {
	addr    string
	queries atomic.Int64
	handler dns.HandlerFunc
}

func startUpstream(t *testing.T, h dns.HandlerFunc) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{handler: h}
	if u.handler == nil {
		u.handler = func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			q := r.Question[0]
			n := 1
			if q.Name == "big.example." {
				n = 60
			}
			for i := range n {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, byte(1+i))})
			}
			if opt := r.IsEdns0(); opt != nil {
				m.SetEdns0(opt.UDPSize(), false)
			}
			_, tcp := w.RemoteAddr().(*net.TCPAddr)
			if !tcp {
				m.Truncate(dns.MinMsgSize)
			}
			w.WriteMsg(m)
		}
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	count := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { u.queries.Add(1); u.handler(w, r) })
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: count}, {Listener: ln, Handler: count}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
	return u
}

// startServer runs a Server for c's projection on a free loopback port.
func startServer(t testing.TB, c *cluster, cfg Config) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Upstreams == nil {
		cfg.ResolvConf = "/nonexistent"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := New(c.proj, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run ended: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("server not ready")
	}
	return s
}

func query(t testing.TB, net, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: net, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", net, name, dns.TypeToString[qtype], err)
	}
	return r
}

func TestServeUDPAndTCP(t *testing.T) {
	c := liveCluster(t)
	seed(c)
	s := startServer(t, c, Config{})
	for _, network := range []string{"udp", "tcp"} {
		r := query(t, network, s.Addr(), "web.default.svc.cluster.local.", dns.TypeA)
		if got := brief(r.Answer); !slices.Equal(got, []string{"web.default.svc.cluster.local. A 10.96.0.10"}) || !r.Authoritative || !r.RecursionAvailable {
			t.Fatalf("%s: %v aa=%v ra=%v", network, got, r.Authoritative, r.RecursionAvailable)
		}
		r = query(t, network, s.Addr(), "_pg._tcp.db.db.svc.cluster.local.", dns.TypeSRV)
		if len(r.Answer) != 2 || len(r.Extra) != 2 {
			t.Fatalf("%s: SRV %v extra %v", network, r.Answer, r.Extra)
		}
	}
	// A change reaches the index through the projection's watch.
	c.put(newService("default", "late", "10.96.0.77"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := query(t, "udp", s.Addr(), "late.default.svc.cluster.local.", dns.TypeA)
		if len(r.Answer) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new service never resolved: %s", dns.RcodeToString[r.Rcode])
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.del(newService("default", "late", ""))
	for {
		r := query(t, "tcp", s.Addr(), "late.default.svc.cluster.local.", dns.TypeA)
		if r.Rcode == dns.RcodeNameError {
			if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
				t.Fatalf("NXDOMAIN without SOA: %v", r.Ns)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("deleted service still resolves")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestForward(t *testing.T) {
	up := startUpstream(t, nil)
	c := liveCluster(t)
	c.put(namespace("default"), externalName("default", "ext", "example.com"))
	s := startServer(t, c, Config{Upstreams: []string{up.addr}})

	r := query(t, "udp", s.Addr(), "example.org.", dns.TypeA)
	if got := brief(r.Answer); !slices.Equal(got, []string{"example.org. A 192.0.2.1"}) || r.Authoritative {
		t.Fatalf("forwarded: %v aa=%v", got, r.Authoritative)
	}
	// A CNAME out of the zone is chased upstream.
	r = query(t, "udp", s.Addr(), "ext.default.svc.cluster.local.", dns.TypeA)
	if got := brief(r.Answer); !slices.Equal(got, []string{"example.com. A 192.0.2.1", "ext.default.svc.cluster.local. CNAME example.com."}) {
		t.Fatalf("external name: %v", got)
	}
	// The upstream truncates over UDP: the forwarder asks again over TCP,
	// then fits the answer to the client (TC over UDP, whole over TCP).
	r = query(t, "udp", s.Addr(), "big.example.", dns.TypeA)
	if !r.Truncated {
		t.Fatalf("a 60-record answer fit in 512 bytes? %d records", len(r.Answer))
	}
	if r = query(t, "tcp", s.Addr(), "big.example.", dns.TypeA); len(r.Answer) != 60 || r.Truncated {
		t.Fatalf("over TCP: %d records, tc=%v", len(r.Answer), r.Truncated)
	}
}

func TestForwardFailover(t *testing.T) {
	dead, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	up := startUpstream(t, nil)
	c := liveCluster(t)
	s := startServer(t, c, Config{Upstreams: []string{dead.LocalAddr().String(), up.addr}, ForwardTimeout: 200 * time.Millisecond})
	if r := query(t, "udp", s.Addr(), "example.org.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("failover: %v", r)
	}

	lone := startServer(t, c, Config{Upstreams: []string{dead.LocalAddr().String()}, ForwardTimeout: 200 * time.Millisecond})
	start := time.Now()
	if r := query(t, "udp", lone.Addr(), "example.org.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("dead upstream: %s", dns.RcodeToString[r.Rcode])
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("SERVFAIL took %v", d)
	}
	none := startServer(t, c, Config{})
	if r := query(t, "udp", none.Addr(), "example.org.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("no upstream: %s", dns.RcodeToString[r.Rcode])
	}
}

// TestNoLoop points the upstream back at the server: the marked query is
// refused on its second pass instead of circling.
func TestNoLoop(t *testing.T) {
	var target atomic.Value
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		resp, _, err := (&dns.Client{Timeout: time.Second}).Exchange(r, target.Load().(string))
		if err != nil {
			return
		}
		w.WriteMsg(resp)
	})
	c := liveCluster(t)
	s := startServer(t, c, Config{Upstreams: []string{up.addr}})
	target.Store(s.Addr())
	if r := query(t, "udp", s.Addr(), "loop.example.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("loop: %s", dns.RcodeToString[r.Rcode])
	}
	if n := up.queries.Load(); n != 1 {
		t.Fatalf("the upstream saw %d queries, want 1", n)
	}

	// An upstream that is the server's own address is dropped outright.
	self := Config{Upstreams: []string{"127.0.0.1:10053", "[::1]:53", "10.0.0.1"}, Logger: s.log}
	got := self.upstreams(mustAddrPort("127.0.0.1:10053"))
	if !slices.Equal(got, []string{"[::1]:53", "10.0.0.1:53"}) {
		t.Fatalf("upstreams %v", got)
	}
	if !isSelf(mustAddrPort("127.0.0.1:53"), mustAddrPort("0.0.0.0:53")) || isSelf(mustAddrPort("127.0.0.1:53"), mustAddrPort("0.0.0.0:10053")) {
		t.Fatal("isSelf")
	}
}

func TestBadInput(t *testing.T) {
	c := liveCluster(t)
	seed(c)
	var eps []ep
	for i := range 2000 {
		eps = append(eps, ep{ip: "10.250." + itoa(i/250) + "." + itoa(i%250+1), ready: true})
	}
	c.put(newService("default", "many", "None"), slice("default", "many-1", "many", nil, eps...))
	s := startServer(t, c, Config{})

	raw := func(b []byte) *dns.Msg {
		conn, err := net.Dial("udp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(b)
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 65535)
		n, err := conn.Read(buf)
		if err != nil {
			return nil
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("unreadable reply: %v", err)
		}
		return m
	}
	pack := func(m *dns.Msg) []byte {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if m := raw([]byte{1, 2, 3}); m != nil {
		t.Fatalf("garbage answered: %v", m)
	}
	// Trailing bytes after a well-formed query are ignored (miekg/dns).
	raw(append(pack(new(dns.Msg).SetQuestion("web.default.svc.cluster.local.", dns.TypeA)), make([]byte, 3000)...))
	upd := new(dns.Msg).SetUpdate("cluster.local.")
	if m := raw(pack(upd)); m == nil || m.Rcode != dns.RcodeNotImplemented {
		t.Fatalf("update: %v", m)
	}
	two := new(dns.Msg).SetQuestion("a.cluster.local.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	if m := raw(pack(two)); m == nil || m.Rcode != dns.RcodeFormatError {
		t.Fatalf("two questions: %v", m)
	}
	chaos := new(dns.Msg).SetQuestion("version.bind.", dns.TypeTXT)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	if m := raw(pack(chaos)); m == nil || m.Rcode != dns.RcodeNotImplemented {
		t.Fatalf("chaos: %v", m)
	}
	v1 := new(dns.Msg).SetQuestion("web.default.svc.cluster.local.", dns.TypeA)
	v1.SetEdns0(1232, false)
	v1.IsEdns0().SetVersion(1)
	if m := raw(pack(v1)); m == nil || m.Rcode != dns.RcodeBadVers {
		t.Fatalf("edns version 1: %v", m)
	}
	long := strings.Repeat(strings.Repeat("x", 63)+".", 3) + "svc.cluster.local."
	if r := query(t, "udp", s.Addr(), long, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("long name: %s", dns.RcodeToString[r.Rcode])
	}
	// 2,000 endpoints: truncated over UDP, whole over TCP.
	r := query(t, "udp", s.Addr(), "many.default.svc.cluster.local.", dns.TypeA)
	if !r.Truncated {
		t.Fatalf("2,000 records over UDP without TC (%d)", len(r.Answer))
	}
	if r = query(t, "tcp", s.Addr(), "many.default.svc.cluster.local.", dns.TypeA); len(r.Answer) != 2000 {
		t.Fatalf("over TCP: %d records", len(r.Answer))
	}
	// Still serving.
	if r := query(t, "udp", s.Addr(), "web.default.svc.cluster.local.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("after bad input: %v", r)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
