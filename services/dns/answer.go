package dns

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// Result is the index's answer to one question.
type Result struct {
	Rcode             int
	Answer, Ns, Extra []dns.RR
	Authoritative     bool
	// Forward means the name is not the index's: ask the upstreams.
	Forward bool
	// Chase is a CNAME target outside the zone; its records of the asked
	// type belong after Answer.
	Chase string
}

// maxChase bounds CNAME chains inside the zone.
const maxChase = 8

// Lookup answers one question from the index. It never fails: a name it
// cannot read is answered NXDOMAIN (inside the zone) or forwarded.
func (ix *Index) Lookup(qname string, qtype uint16) Result {
	name := strings.ToLower(dns.Fqdn(qname))
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.inZone(name) {
		if n := ix.names[name]; n != nil && qtype != dns.TypeAXFR && qtype != dns.TypeIXFR {
			return ix.fromNode(n, reverseZone(name), qtype)
		}
		return Result{Forward: true}
	}
	switch qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		return Result{Rcode: dns.RcodeRefused}
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		return Result{Rcode: dns.RcodeFormatError}
	}
	if r, ok := ix.lookupPod(name, qtype); ok {
		return r
	}
	return ix.lookup(name, qtype, 0)
}

func (ix *Index) inZone(name string) bool {
	return name == ix.zone || strings.HasSuffix(name, "."+ix.zone)
}

func (ix *Index) lookup(name string, qtype uint16, depth int) Result {
	n := ix.names[name]
	if n == nil {
		return Result{Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{ix.soa(ix.zone)}}
	}
	r := ix.fromNode(n, ix.zone, qtype)
	if name == ix.zone && (qtype == dns.TypeSOA || qtype == dns.TypeANY) {
		r.Answer, r.Ns = append(r.Answer, ix.soa(ix.zone)), nil
	}
	if len(r.Answer) > 0 || qtype == dns.TypeCNAME || qtype == dns.TypeANY {
		return r
	}
	for _, rr := range n.rrs {
		cname, ok := rr.(*dns.CNAME)
		if !ok {
			continue
		}
		r = Result{Authoritative: true, Answer: []dns.RR{cname}}
		switch {
		case !ix.inZone(cname.Target):
			r.Chase = cname.Target
		case depth < maxChase:
			next := ix.lookup(cname.Target, qtype, depth+1)
			r.Rcode, r.Ns, r.Extra = next.Rcode, next.Ns, next.Extra
			r.Answer = append(r.Answer, next.Answer...)
		}
		return r
	}
	return r
}

// fromNode answers from the records at one existing name: the matching
// ones, or NODATA with the SOA of zone.
func (ix *Index) fromNode(n *node, zone string, qtype uint16) Result {
	r := Result{Authoritative: true}
	for _, rr := range n.rrs {
		if t := rr.Header().Rrtype; t == qtype || qtype == dns.TypeANY {
			r.Answer = append(r.Answer, rr)
		}
	}
	if len(r.Answer) == 0 {
		r.Ns = []dns.RR{ix.soa(zone)}
		return r
	}
	if qtype == dns.TypeSRV {
		for _, rr := range r.Answer {
			if t := ix.names[rr.(*dns.SRV).Target]; t != nil {
				for _, a := range t.rrs {
					if typ := a.Header().Rrtype; typ == dns.TypeA || typ == dns.TypeAAAA {
						r.Extra = append(r.Extra, a)
					}
				}
			}
		}
	}
	return r
}

// lookupPod answers <a-b-c-d>.<ns>.pod.<zone>: any address, in a namespace
// that exists (CoreDNS's "pods insecure").
func (ix *Index) lookupPod(name string, qtype uint16) (Result, bool) {
	rel := strings.TrimSuffix(name, ".pod."+ix.zone)
	if rel == name {
		return Result{}, false
	}
	dot := strings.IndexByte(rel, '.')
	if dot < 0 || strings.IndexByte(rel[dot+1:], '.') >= 0 {
		return Result{}, false // <ns>.pod.<zone> itself, or deeper names
	}
	label, ns := rel[:dot], rel[dot+1:]
	nxdomain := Result{Rcode: dns.RcodeNameError, Authoritative: true, Ns: []dns.RR{ix.soa(ix.zone)}}
	if !ix.namespaces[ns] {
		return nxdomain, true
	}
	addr, ok := undash(label)
	if !ok {
		return nxdomain, true
	}
	r := Result{Authoritative: true}
	switch {
	case addr.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY),
		addr.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
		r.Answer = []dns.RR{ix.addrRR(name, addr)}
	default:
		r.Ns = []dns.RR{ix.soa(ix.zone)}
	}
	return r, true
}

// undash reads an address written as one label: 10-1-2-3 or fd00--1.
func undash(label string) (netip.Addr, bool) {
	if strings.Count(label, "-") == 3 {
		if a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ".")); err == nil && a.Is4() {
			return a, true
		}
	}
	a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":"))
	if err != nil || !a.Is6() || a.Zone() != "" || a.Is4In6() {
		return netip.Addr{}, false
	}
	return a, true
}

// soa is the zone's start of authority; its serial is the index's
// sequence, so it moves whenever the records may have.
func (ix *Index) soa(zone string) dns.RR {
	return &dns.SOA{
		Hdr:     ix.hdr(zone, dns.TypeSOA),
		Ns:      "ns.dns." + ix.zone,
		Mbox:    "hostmaster." + ix.zone,
		Serial:  uint32(ix.seq),
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  ix.ttl,
	}
}

func reverseZone(name string) string {
	if strings.HasSuffix(name, ".ip6.arpa.") {
		return "ip6.arpa."
	}
	return "in-addr.arpa."
}
