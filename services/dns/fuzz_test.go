package dns

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzLookup feeds any name and type to a seeded index: the answer is
// always one a server can send.
func FuzzLookup(f *testing.F) {
	c := newCluster(f)
	seed(c)
	ix := c.index()
	for _, s := range []string{"web.default.svc.cluster.local.", "_pg._tcp.db.db.svc.cluster.local", "10-1-2-3.default.pod.cluster.local.",
		"fd00--1.default.pod.cluster.local.", "10.0.96.10.in-addr.arpa.", "..cluster.local.", `a\.b.default.svc.cluster.local.`, "", ".", "-.pod.cluster.local."} {
		f.Add(s, uint16(dns.TypeA))
	}
	f.Fuzz(func(t *testing.T, name string, qtype uint16) {
		r := ix.Lookup(name, qtype)
		in := ix.inZone(strings.ToLower(dns.Fqdn(name)))
		if in && (r.Forward || r.Rcode == dns.RcodeServerFailure) {
			t.Fatalf("%q in the zone: forward %v rcode %d", name, r.Forward, r.Rcode)
		}
		if !r.Forward && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 0 && len(r.Ns) == 0 {
			t.Fatalf("%q: NODATA without SOA", name)
		}
	})
}

// FuzzRespond feeds any message the server can read to respond: the reply
// always packs and fits the client.
func FuzzRespond(f *testing.F) {
	c := newCluster(f)
	seed(c)
	s := New(nil, Config{Logger: slog.New(slog.DiscardHandler)})
	s.index = c.index()
	for _, q := range []*dns.Msg{
		new(dns.Msg).SetQuestion("web.default.svc.cluster.local.", dns.TypeA),
		new(dns.Msg).SetQuestion("db.db.svc.cluster.local.", dns.TypeANY),
		new(dns.Msg).SetQuestion("example.com.", dns.TypeMX),
		new(dns.Msg).SetUpdate("cluster.local."),
		new(dns.Msg).SetQuestion("_pg._tcp.db.db.svc.cluster.local.", dns.TypeSRV).SetEdns0(4096, true),
	} {
		b, _ := q.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := new(dns.Msg)
		if r.Unpack(b) != nil {
			return
		}
		m := s.respond(r, false)
		if m == nil {
			return
		}
		out, err := m.Pack()
		if err != nil {
			t.Fatalf("reply does not pack: %v\n%s", err, m)
		}
		limit := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			limit = max(limit, min(int(opt.UDPSize()), maxUDPSize))
		}
		if len(out) > limit && !m.Truncated {
			t.Fatalf("reply of %d bytes for a client of %d", len(out), limit)
		}
	})
}
