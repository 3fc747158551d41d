package dns

import (
	"bytes"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/wakehq/wake/projections"
)

const serviceNameLabel = "kubernetes.io/service-name"

type key struct{ ns, name string }

type sliceEntry struct {
	svc   string
	group endpointGroup
}

// node is one name and the records there, from every owner (a Service, a
// Namespace, the zone). refs counts the owners' entries at or below the
// name: a name with refs > 0 exists, with records or empty (NODATA).
type node struct {
	refs   int
	owners map[string][]dns.RR
	rrs    []dns.RR // every owner's records, in owner order
}

// Index is the cluster zone as records, kept current by Apply. It is safe
// for concurrent use: one writer, any number of readers.
type Index struct {
	zone string // lower case, fully qualified: "cluster.local."
	ttl  uint32

	mu         sync.RWMutex
	seq        uint64
	services   map[key]*service
	slices     map[key]sliceEntry               // by slice
	slicesBy   map[key]map[string]endpointGroup // by Service, then slice name
	endpoints  map[key][]endpointGroup          // by Endpoints (= Service) name
	pods       map[key]*pod                     // pods with hostname and subdomain
	podsBySub  map[key]map[string]*pod          // by (namespace, subdomain)
	names      map[string]*node                 // every existing name
	owned      map[string]map[string][]dns.RR   // owner → name → records
	namespaces map[string]bool
}

// NewIndex returns an empty index for zone (for example "cluster.local")
// whose records live ttl seconds.
func NewIndex(zone string, ttl uint32) *Index {
	ix := &Index{
		zone:       dns.CanonicalName(zone),
		ttl:        ttl,
		services:   map[key]*service{},
		slices:     map[key]sliceEntry{},
		slicesBy:   map[key]map[string]endpointGroup{},
		endpoints:  map[key][]endpointGroup{},
		pods:       map[key]*pod{},
		podsBySub:  map[key]map[string]*pod{},
		names:      map[string]*node{},
		owned:      map[string]map[string][]dns.RR{},
		namespaces: map[string]bool{},
	}
	ix.setOwner("", map[string][]dns.RR{ix.zone: nil, "svc." + ix.zone: nil, "pod." + ix.zone: nil})
	return ix
}

// Seq is the sequence of the last change applied.
func (ix *Index) Seq() uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.seq
}

// Reset empties the index of cluster objects, for a fresh sync.
func (ix *Index) Reset() {
	fresh := NewIndex(ix.zone, ix.ttl)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.seq = 0
	ix.services, ix.slices, ix.slicesBy, ix.endpoints = fresh.services, fresh.slices, fresh.slicesBy, fresh.endpoints
	ix.pods, ix.podsBySub, ix.names, ix.owned, ix.namespaces = fresh.pods, fresh.podsBySub, fresh.names, fresh.owned, fresh.namespaces
}

// Load adds objects as they are (a List), as if each had just been added.
func (ix *Index) Load(objs []*projections.Object, seq uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, o := range objs {
		ix.apply(projections.Change{Type: projections.Added, Seq: o.Seq, Object: o})
	}
	ix.seq = max(ix.seq, seq)
}

// Apply folds changes into the index. Objects DNS does not read are skipped.
func (ix *Index) Apply(changes ...projections.Change) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, ch := range changes {
		ix.apply(ch)
		ix.seq = max(ix.seq, ch.Seq)
	}
}

// Watched reports whether DNS reads objects of this group and resource.
func Watched(group, resource string) bool {
	switch group + "/" + resource {
	case "/services", "/endpoints", "/pods", "/namespaces", "discovery.k8s.io/endpointslices":
		return true
	}
	return false
}

func (ix *Index) apply(ch projections.Change) {
	o := ch.Object
	if o == nil {
		return
	}
	ref := o.Ref
	k := key{ref.Namespace, ref.Name}
	gone := ch.Type == projections.Deleted
	switch ref.Group + "/" + ref.Resource {
	case "/services":
		delete(ix.services, k)
		if !gone {
			if s, err := decodeService(o.Raw); err == nil {
				ix.services[k] = s
			}
		}
		ix.rebuild(k)
	case "discovery.k8s.io/endpointslices":
		var affected []string
		if old, ok := ix.slices[k]; ok {
			delete(ix.slicesBy[key{k.ns, old.svc}], k.name)
			delete(ix.slices, k)
			affected = append(affected, old.svc)
		}
		if !gone {
			if svc, g, err := decodeSlice(o.Raw); err == nil && svc != "" {
				ix.slices[k] = sliceEntry{svc, g}
				by := ix.slicesBy[key{k.ns, svc}]
				if by == nil {
					by = map[string]endpointGroup{}
					ix.slicesBy[key{k.ns, svc}] = by
				}
				by[k.name] = g
				affected = append(affected, svc)
			}
		}
		for _, svc := range dedupe(affected) {
			if len(ix.slicesBy[key{k.ns, svc}]) == 0 {
				delete(ix.slicesBy, key{k.ns, svc})
			}
			ix.rebuild(key{k.ns, svc})
		}
	case "/endpoints":
		delete(ix.endpoints, k)
		if !gone {
			if gs, err := decodeEndpoints(o.Raw); err == nil {
				ix.endpoints[k] = gs
			}
		}
		ix.rebuild(k)
	case "/pods":
		old := ix.pods[k]
		if old == nil && !bytes.Contains(o.Raw, []byte(`"subdomain"`)) {
			return // the common case: a pod DNS does not name
		}
		var affected []string
		if old != nil {
			delete(ix.podsBySub[key{k.ns, old.subdomain}], k.name)
			delete(ix.pods, k)
			affected = append(affected, old.subdomain)
		}
		if !gone {
			if p, err := decodePod(o.Raw); err == nil && p != nil {
				ix.pods[k] = p
				sk := key{k.ns, p.subdomain}
				if ix.podsBySub[sk] == nil {
					ix.podsBySub[sk] = map[string]*pod{}
				}
				ix.podsBySub[sk][k.name] = p
				affected = append(affected, p.subdomain)
			}
		}
		for _, sub := range dedupe(affected) {
			if len(ix.podsBySub[key{k.ns, sub}]) == 0 {
				delete(ix.podsBySub, key{k.ns, sub})
			}
			ix.rebuild(key{k.ns, sub})
		}
	case "/namespaces":
		owner := "namespace/" + ref.Name
		if gone || !isLabel(ref.Name) {
			delete(ix.namespaces, ref.Name)
			ix.setOwner(owner, nil)
			return
		}
		ix.namespaces[ref.Name] = true
		ix.setOwner(owner, map[string][]dns.RR{ref.Name + ".svc." + ix.zone: nil, ref.Name + ".pod." + ix.zone: nil})
	}
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// rebuild recomputes every record a Service owns.
func (ix *Index) rebuild(k key) {
	owner := "service/" + k.ns + "/" + k.name
	s := ix.services[k]
	if s == nil || !isLabel(k.ns) || !isLabel(k.name) {
		ix.setOwner(owner, nil)
		return
	}
	ix.setOwner(owner, ix.serviceRecords(k, s))
}

// recordSet collects records by name, without duplicates.
type recordSet map[string][]dns.RR

func (rs recordSet) add(rr dns.RR) {
	name := rr.Header().Name
	for _, have := range rs[name] {
		if dns.IsDuplicate(have, rr) {
			return
		}
	}
	rs[name] = append(rs[name], rr)
}

func (ix *Index) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ix.ttl}
}

func (ix *Index) addrRR(name string, a netip.Addr) dns.RR {
	if a.Is4() {
		return &dns.A{Hdr: ix.hdr(name, dns.TypeA), A: a.AsSlice()}
	}
	return &dns.AAAA{Hdr: ix.hdr(name, dns.TypeAAAA), AAAA: a.AsSlice()}
}

func (ix *Index) ptrRR(a netip.Addr, target string) dns.RR {
	rev, _ := dns.ReverseAddr(a.String())
	return &dns.PTR{Hdr: ix.hdr(rev, dns.TypePTR), Ptr: target}
}

func (ix *Index) srvRR(name string, p uint16, target string) dns.RR {
	return &dns.SRV{Hdr: ix.hdr(name, dns.TypeSRV), Priority: 0, Weight: 100, Port: p, Target: target}
}

func srvName(p port, base string) (string, bool) {
	if p.name == "" || !isLabel(p.name) || !isLabel(p.proto) {
		return "", false
	}
	return "_" + p.name + "._" + p.proto + "." + base, true
}

// serviceRecords is every record of one Service, as CoreDNS builds them.
func (ix *Index) serviceRecords(k key, s *service) recordSet {
	base := k.name + "." + k.ns + ".svc." + ix.zone
	rs := recordSet{base: nil}
	if s.externalName != "" {
		rs.add(&dns.CNAME{Hdr: ix.hdr(base, dns.TypeCNAME), Target: s.externalName})
		return rs
	}
	for _, ip := range s.clusterIPs {
		rs.add(ix.addrRR(base, ip))
		rs.add(ix.ptrRR(ip, base))
	}
	if len(s.clusterIPs) > 0 {
		for _, p := range s.ports {
			rs.add(ix.srvRR(base, p.port, base))
			if name, ok := srvName(p, base); ok {
				rs.add(ix.srvRR(name, p.port, base))
			}
		}
	}
	for _, g := range ix.endpointGroups(k) {
		for _, e := range g.endpoints {
			if !e.ready && !s.notReady {
				continue
			}
			target := ix.endpointHostname(k, e) + "." + base
			rs.add(ix.addrRR(target, e.addr))
			rs.add(ix.ptrRR(e.addr, target))
			if !s.headless {
				continue
			}
			rs.add(ix.addrRR(base, e.addr))
			for _, p := range g.ports {
				rs.add(ix.srvRR(base, p.port, target))
				if name, ok := srvName(p, base); ok {
					rs.add(ix.srvRR(name, p.port, target))
				}
			}
		}
	}
	// Weights share 100 among the records of one name, as CoreDNS does.
	for _, rrs := range rs {
		n := 0
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeSRV {
				n++
			}
		}
		for _, rr := range rrs {
			if srv, ok := rr.(*dns.SRV); ok {
				srv.Weight = uint16(max(1, 100/n))
			}
		}
	}
	return rs
}

// endpointGroups are a Service's endpoints: its EndpointSlices in name
// order, or its Endpoints when it has no slice.
func (ix *Index) endpointGroups(k key) []endpointGroup {
	by := ix.slicesBy[k]
	if len(by) == 0 {
		return ix.endpoints[k]
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]endpointGroup, len(names))
	for i, n := range names {
		out[i] = by[n]
	}
	return out
}

// endpointHostname is the first label of an endpoint's name: its own
// hostname, its Pod's when the Pod's subdomain is the Service, or its
// address with dashes.
func (ix *Index) endpointHostname(k key, e endpoint) string {
	if isLabel(e.hostname) {
		return e.hostname
	}
	if p := ix.pods[key{k.ns, e.pod}]; e.pod != "" && p != nil && p.subdomain == k.name && isLabel(p.hostname) {
		return p.hostname
	}
	for _, name := range sortedKeys(ix.podsBySub[k]) {
		p := ix.podsBySub[k][name]
		if containsAddr(p.ips, e.addr) && isLabel(p.hostname) {
			return p.hostname
		}
	}
	return dashed(e.addr)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dashed writes an address as one label: 10-1-2-3, or the expanded IPv6
// form with dashes (never starting with one).
func dashed(a netip.Addr) string {
	if a.Is4() {
		return strings.ReplaceAll(a.String(), ".", "-")
	}
	return strings.ReplaceAll(a.StringExpanded(), ":", "-")
}

// setOwner replaces every record an owner has with recs (name → records;
// a name with no records still exists).
func (ix *Index) setOwner(owner string, recs map[string][]dns.RR) {
	for name := range ix.owned[owner] {
		if _, keep := recs[name]; !keep {
			ix.unref(name, owner)
		}
	}
	for name, rrs := range recs {
		_, had := ix.owned[owner][name]
		n := ix.names[name]
		if !had {
			n = ix.ref(name)
		}
		if n.owners == nil {
			n.owners = map[string][]dns.RR{}
		}
		n.owners[owner] = rrs
		n.collect()
	}
	if len(recs) == 0 {
		delete(ix.owned, owner)
		return
	}
	ix.owned[owner] = recs
}

// ref adds one entry at name, counting it at every ancestor inside the zone.
func (ix *Index) ref(name string) *node {
	first := ix.names[name]
	for n := name; ; {
		nd := ix.names[n]
		if nd == nil {
			nd = &node{}
			ix.names[n] = nd
		}
		if first == nil {
			first = nd
		}
		nd.refs++
		parent, ok := ix.parentInZone(n)
		if !ok {
			return first
		}
		n = parent
	}
}

func (ix *Index) unref(name, owner string) {
	if nd := ix.names[name]; nd != nil {
		delete(nd.owners, owner)
		nd.collect()
	}
	for n := name; ; {
		if nd := ix.names[n]; nd != nil {
			if nd.refs--; nd.refs <= 0 {
				delete(ix.names, n)
			}
		}
		parent, ok := ix.parentInZone(n)
		if !ok {
			return
		}
		n = parent
	}
}

// parentInZone is name's parent while name is strictly inside the zone.
func (ix *Index) parentInZone(name string) (string, bool) {
	if name == ix.zone || !strings.HasSuffix(name, "."+ix.zone) {
		return "", false
	}
	i := strings.IndexByte(name, '.')
	return name[i+1:], true
}

// collect rebuilds rrs afresh: answers handed out earlier keep theirs.
func (n *node) collect() {
	var rrs []dns.RR
	for _, o := range sortedKeys(n.owners) {
		rrs = append(rrs, n.owners[o]...)
	}
	n.rrs = rrs
}
