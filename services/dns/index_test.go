package dns

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// brief renders a result's answer section as "TYPE data" lines, sorted.
func brief(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		h := rr.Header()
		out = append(out, strings.TrimSpace(h.Name+" "+dns.TypeToString[h.Rrtype]+" "+strings.TrimPrefix(rr.String(), h.String())))
	}
	slices.Sort(out)
	return out
}

const z = ".cluster.local."

func TestLookup(t *testing.T) {
	c := newCluster(t)
	seed(c)
	ix := c.index()
	const (
		noerror  = dns.RcodeSuccess
		nxdomain = dns.RcodeNameError
	)
	cases := []struct {
		name    string
		qtype   uint16
		rcode   int
		answer  []string // nil: empty answer
		extra   []string
		forward bool
		chase   string
	}{
		{name: "web.default.svc" + z, qtype: dns.TypeA, answer: []string{"web.default.svc.cluster.local. A 10.96.0.10"}},
		{name: "WEB.Default.SVC.Cluster.Local", qtype: dns.TypeA, answer: []string{"web.default.svc.cluster.local. A 10.96.0.10"}},
		{name: "web.default.svc" + z, qtype: dns.TypeAAAA},
		{name: "web.default.svc" + z, qtype: dns.TypeTXT},
		{name: "web.default.svc" + z, qtype: 65280},
		{name: "nope.default.svc" + z, qtype: dns.TypeA, rcode: nxdomain},
		{name: "default.svc" + z, qtype: dns.TypeA},
		{name: "nons.svc" + z, qtype: dns.TypeA, rcode: nxdomain},
		{name: "svc" + z, qtype: dns.TypeA},
		{name: "other" + z, qtype: dns.TypeA, rcode: nxdomain},
		{name: "cluster.local.", qtype: dns.TypeSOA, answer: []string{"cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 12 7200 1800 86400 5"}},
		{name: "cluster.local.", qtype: dns.TypeAXFR, rcode: dns.RcodeRefused},
		{name: "web.default.svc" + z, qtype: dns.TypeOPT, rcode: dns.RcodeFormatError},
		{name: "_http._tcp.web.default.svc" + z, qtype: dns.TypeSRV,
			answer: []string{"_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. A 10.96.0.10"}},
		{name: "web.default.svc" + z, qtype: dns.TypeSRV,
			answer: []string{"web.default.svc.cluster.local. SRV 0 50 53 web.default.svc.cluster.local.", "web.default.svc.cluster.local. SRV 0 50 80 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. A 10.96.0.10", "web.default.svc.cluster.local. A 10.96.0.10"}},
		{name: "_http._udp.web.default.svc" + z, qtype: dns.TypeSRV, rcode: nxdomain},
		{name: "_tcp.web.default.svc" + z, qtype: dns.TypeSRV}, // empty non-terminal
		{name: "10-244-0-5.web.default.svc" + z, qtype: dns.TypeA, answer: []string{"10-244-0-5.web.default.svc.cluster.local. A 10.244.0.5"}},
		{name: "10-244-0-6.web.default.svc" + z, qtype: dns.TypeA, rcode: nxdomain}, // not ready
		{name: "db.db.svc" + z, qtype: dns.TypeA, answer: []string{"db.db.svc.cluster.local. A 10.244.1.10", "db.db.svc.cluster.local. A 10.244.1.11"}},
		{name: "_pg._tcp.db.db.svc" + z, qtype: dns.TypeSRV,
			answer: []string{"_pg._tcp.db.db.svc.cluster.local. SRV 0 50 5432 db-0.db.db.svc.cluster.local.", "_pg._tcp.db.db.svc.cluster.local. SRV 0 50 5432 db-1.db.db.svc.cluster.local."},
			extra:  []string{"db-0.db.db.svc.cluster.local. A 10.244.1.10", "db-1.db.db.svc.cluster.local. A 10.244.1.11"}},
		{name: "db-0.db.db.svc" + z, qtype: dns.TypeA, answer: []string{"db-0.db.db.svc.cluster.local. A 10.244.1.10"}},
		{name: "db-1.db.db.svc" + z, qtype: dns.TypeA, answer: []string{"db-1.db.db.svc.cluster.local. A 10.244.1.11"}},
		{name: "ext.default.svc" + z, qtype: dns.TypeA, answer: []string{"ext.default.svc.cluster.local. CNAME example.com."}, chase: "example.com."},
		{name: "ext.default.svc" + z, qtype: dns.TypeCNAME, answer: []string{"ext.default.svc.cluster.local. CNAME example.com."}},
		{name: "alias.default.svc" + z, qtype: dns.TypeA, answer: []string{"alias.default.svc.cluster.local. CNAME web.default.svc.cluster.local.", "web.default.svc.cluster.local. A 10.96.0.10"}},
		{name: "pending.default.svc" + z, qtype: dns.TypeA},
		{name: "dual.default.svc" + z, qtype: dns.TypeAAAA, answer: []string{"dual.default.svc.cluster.local. AAAA fd00::20"}},
		{name: "dual.default.svc" + z, qtype: dns.TypeANY, answer: []string{"dual.default.svc.cluster.local. A 10.96.0.20", "dual.default.svc.cluster.local. AAAA fd00::20", "dual.default.svc.cluster.local. SRV 0 100 80 dual.default.svc.cluster.local."}},
		{name: "10-1-2-3.default.pod" + z, qtype: dns.TypeA, answer: []string{"10-1-2-3.default.pod.cluster.local. A 10.1.2.3"}},
		{name: "10-1-2-3.default.pod" + z, qtype: dns.TypeAAAA},
		{name: "fd00--1.default.pod" + z, qtype: dns.TypeAAAA, answer: []string{"fd00--1.default.pod.cluster.local. AAAA fd00::1"}},
		{name: "10-1-2-3.nons.pod" + z, qtype: dns.TypeA, rcode: nxdomain},
		{name: "1-2-3.default.pod" + z, qtype: dns.TypeA, rcode: nxdomain},
		{name: "10-1-2-300.default.pod" + z, qtype: dns.TypeA, rcode: nxdomain},
		{name: "x.10-1-2-3.default.pod" + z, qtype: dns.TypeA, rcode: nxdomain},
		{name: "default.pod" + z, qtype: dns.TypeA},
		{name: `we\000b.default.svc` + z, qtype: dns.TypeA, rcode: nxdomain},
		{name: `web\.default.svc` + z, qtype: dns.TypeA, rcode: nxdomain},
		{name: "10.0.96.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"10.0.96.10.in-addr.arpa. PTR web.default.svc.cluster.local."}},
		{name: "10.1.244.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"10.1.244.10.in-addr.arpa. PTR db-0.db.db.svc.cluster.local."}},
		{name: "5.0.244.10.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"5.0.244.10.in-addr.arpa. PTR 10-244-0-5.web.default.svc.cluster.local."}},
		{name: "10.0.96.10.in-addr.arpa.", qtype: dns.TypeA},
		{name: "9.9.9.9.in-addr.arpa.", qtype: dns.TypePTR, forward: true},
		{name: "example.com.", qtype: dns.TypeA, forward: true},
		{name: "cluster.local.example.com.", qtype: dns.TypeA, forward: true},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			r := ix.Lookup(tc.name, tc.qtype)
			if r.Forward != tc.forward || r.Rcode != tc.rcode || r.Chase != tc.chase {
				t.Fatalf("forward %v rcode %s chase %q, want %v %s %q", r.Forward, dns.RcodeToString[r.Rcode], r.Chase, tc.forward, dns.RcodeToString[tc.rcode], tc.chase)
			}
			if got := brief(r.Answer); !slices.Equal(got, tc.answer) {
				t.Fatalf("answer\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.answer, "\n"))
			}
			if got := brief(r.Extra); !slices.Equal(got, tc.extra) {
				t.Fatalf("extra\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.extra, "\n"))
			}
			negative := len(r.Answer) == 0 && !r.Forward && r.Rcode != dns.RcodeRefused && r.Rcode != dns.RcodeFormatError
			if negative && (len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA || r.Ns[0].(*dns.SOA).Minttl != 5) {
				t.Fatalf("a negative answer needs the SOA in authority, got %v", r.Ns)
			}
			for _, rr := range append(r.Answer, r.Extra...) {
				if rr.Header().Ttl != 5 {
					t.Fatalf("ttl %d: %s", rr.Header().Ttl, rr)
				}
			}
		})
	}
}

// TestIncremental changes the cluster step by step; after every step the
// index maintained change by change must equal one loaded from scratch.
func TestIncremental(t *testing.T) {
	c := newCluster(t)
	seed(c)
	ix := c.index()
	check := func(step string, name string, qtype uint16, want ...string) {
		t.Helper()
		ix.Apply(c.changes[len(c.changes)-1])
		if got, fresh := ix.dump(), c.loaded().dump(); got != fresh {
			t.Fatalf("%s: incremental index differs from a fresh load:\n%s\n---\n%s", step, got, fresh)
		}
		r := ix.Lookup(name, qtype)
		if got := brief(r.Answer); !slices.Equal(got, want) {
			t.Fatalf("%s: %s answered %v (%s), want %v", step, name, got, dns.RcodeToString[r.Rcode], want)
		}
	}
	ready := slice("default", "web-abc", "web", []discoveryv1.EndpointPort{slicePort("http", 8080)},
		ep{ip: "10.244.0.5", ready: true}, ep{ip: "10.244.0.6", ready: true})
	c.put(ready)
	check("endpoint ready", "10-244-0-6.web.default.svc"+z, dns.TypeA, "10-244-0-6.web.default.svc.cluster.local. A 10.244.0.6")

	c.put(endpoints("default", "web", nil, ep{ip: "10.244.9.9", ready: true}))
	check("endpoints ignored while a slice exists", "10-244-9-9.web.default.svc"+z, dns.TypeA)

	c.del(ready)
	check("slice gone: Endpoints used", "10-244-9-9.web.default.svc"+z, dns.TypeA, "10-244-9-9.web.default.svc.cluster.local. A 10.244.9.9")

	c.put(newService("default", "web", "10.96.0.11", svcPort("http", corev1.ProtocolTCP, 80)))
	check("new cluster IP", "web.default.svc"+z, dns.TypeA, "web.default.svc.cluster.local. A 10.96.0.11")
	if r := ix.Lookup("10.0.96.10.in-addr.arpa.", dns.TypePTR); !r.Forward {
		t.Fatalf("the old cluster IP still has a PTR: %v", r.Answer)
	}

	moved := statefulPod("db", "db-1", "db", "10.244.1.11")
	moved.Spec.Hostname = "primary"
	c.put(moved)
	check("pod hostname names the endpoint", "primary.db.db.svc"+z, dns.TypeA, "primary.db.db.svc.cluster.local. A 10.244.1.11")

	pub := newService("db", "db", "None", svcPort("pg", corev1.ProtocolTCP, 5432))
	pub.Spec.PublishNotReadyAddresses = true
	c.put(pub)
	check("publishNotReadyAddresses", "10-244-1-12.db.db.svc"+z, dns.TypeA, "10-244-1-12.db.db.svc.cluster.local. A 10.244.1.12")

	c.del(statefulPod("db", "db-0", "db", ""))
	check("pod gone: dashed name", "10-244-1-10.db.db.svc"+z, dns.TypeA, "10-244-1-10.db.db.svc.cluster.local. A 10.244.1.10")

	c.del(newService("db", "db", ""))
	check("service gone", "db.db.svc"+z, dns.TypeA)
	if r := ix.Lookup("db.db.svc"+z, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("deleted service: %s", dns.RcodeToString[r.Rcode])
	}
	if r := ix.Lookup("db.svc"+z, dns.TypeA); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("namespace db still exists: %s", dns.RcodeToString[r.Rcode])
	}

	c.del(namespace("db"))
	check("namespace gone", "db.svc"+z, dns.TypeA)
	if r := ix.Lookup("db.svc"+z, dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("deleted namespace: %s", dns.RcodeToString[r.Rcode])
	}

	// A Service whose name no DNS label can carry (not possible through
	// the API, but the log is not the API) gets no records, not a crash.
	c.put(newService("default", "Bad.Name", "10.96.0.99"))
	check("bad name", "10.0.96.99.in-addr.arpa.", dns.TypePTR)
}

func TestUndash(t *testing.T) {
	for in, want := range map[string]string{
		"10-0-0-1": "10.0.0.1", "fd00--1": "fd00::1", "fd00-0000-0000-0000-0000-0000-0000-0001": "fd00::1",
		"10-0-0": "", "a-b-c-d": "", "": "", "--": "::", "0-0-0-0-0-0-0-0-0": "", "--ffff-10-0-0-1": "::ffff:10:0:0:1",
	} {
		a, ok := undash(in)
		if got := map[bool]string{true: a.String(), false: ""}[ok]; got != want {
			t.Errorf("undash(%q) = %q, want %q", in, got, want)
		}
	}
}
