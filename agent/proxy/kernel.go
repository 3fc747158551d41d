package proxy

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Kernel programs the table from ServicePorts. Each Replace or Update is
// one nftables transaction: the kernel applies all of it or none, and on
// failure Kernel keeps its record of the previous (still live) rules.
// Not safe for concurrent use.
type Kernel struct {
	// ClusterCIDR, when valid, is the pod network: traffic from it to
	// anywhere else is masqueraded (pods reach the outside with the
	// node's address; pod to pod, across nodes too, keeps its source),
	// and forwarded traffic from or to it is accepted. Set before Replace.
	ClusterCIDR netip.Prefix

	conn  *nftables.Conn
	table *nftables.Table
	sets  map[string]*nftables.Set
	bySvc map[string][]ServicePort // what is live, by Service
	owner map[element]string       // named-map entry → owning identity
}

// NewKernel uses conn (nftables.New(), possibly WithNetNSFd) and the
// table TableName.
func NewKernel(conn *nftables.Conn) *Kernel { return NewKernelTable(conn, TableName) }

// NewKernelTable is NewKernel with another table: tests that share a
// network namespace with a running agent keep out of its table.
func NewKernelTable(conn *nftables.Conn, table string) *Kernel {
	return &Kernel{
		conn:  conn,
		table: &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4},
		bySvc: map[string][]ServicePort{}, owner: map[element]string{},
	}
}

// Existing reports whether the table is in the kernel (a previous agent's).
func (k *Kernel) Existing() bool {
	t, err := k.conn.ListTableOfFamily(k.table.Name, nftables.TableFamilyIPv4)
	return err == nil && t != nil
}

// Replace makes the table hold exactly all (by Service): a previous
// agent's table is replaced in the same transaction, so that traffic keeps
// flowing across an agent restart.
func (k *Kernel) Replace(all map[string][]ServicePort) error {
	cc := k.conn
	cc.AddTable(k.table) // so that the delete cannot fail
	cc.DelTable(k.table)
	cc.AddTable(k.table)
	sets, err := k.base()
	if err != nil {
		return err
	}
	owner := map[element]string{}
	p := plan(nil, all, owner)
	if err := k.emit(p, sets); err != nil {
		return err
	}
	if err := cc.Flush(); err != nil {
		return fmt.Errorf("replace table %s: %w", k.table.Name, err)
	}
	k.sets, k.bySvc, k.owner = sets, cloneBySvc(all), owner
	return nil
}

// Update programs the Services in changes (an empty list removes one).
func (k *Kernel) Update(changes map[string][]ServicePort) error {
	if k.sets == nil {
		return fmt.Errorf("update before replace")
	}
	owner := maps.Clone(k.owner)
	p := plan(k.bySvc, changes, owner)
	if p.empty() {
		return nil
	}
	if err := k.emit(p, k.sets); err != nil {
		return err
	}
	if err := k.conn.Flush(); err != nil {
		return fmt.Errorf("update %d services: %w", len(changes), err)
	}
	for svc, sps := range changes {
		if len(sps) == 0 {
			delete(k.bySvc, svc)
		} else {
			k.bySvc[svc] = slices.Clone(sps)
		}
	}
	k.owner = owner
	return nil
}

func cloneBySvc(m map[string][]ServicePort) map[string][]ServicePort {
	out := make(map[string][]ServicePort, len(m))
	for k, v := range m {
		if len(v) > 0 {
			out[k] = slices.Clone(v)
		}
	}
	return out
}

// txPlan is one transaction, in the order the kernel needs: entries that
// reference chains go before the chains, chains before what they jump to.
type txPlan struct {
	delElems  []element
	flush     []string // chains to empty (rewritten or deleted)
	delChains []string // external, then service, then endpoint chains
	delSets   []string // affinity sets of deleted endpoint chains
	addChains []chainAdd
	addElems  []element
}

type chainAdd struct {
	name string
	sp   *ServicePort
	kind string // "endpoint", "service", "external"
	ep   Endpoint
}

func (p *txPlan) empty() bool {
	return len(p.delElems)+len(p.flush)+len(p.delChains)+len(p.delSets)+len(p.addChains)+len(p.addElems) == 0
}

// plan diffs the live ServicePorts (by Service) against changes and
// updates owner (which identity holds each named-map key: a key claimed
// twice, say two Services given one NodePort, goes to the first).
func plan(live, changes map[string][]ServicePort, owner map[element]string) *txPlan {
	type pair struct{ old, new *ServicePort }
	pairs := map[string]*pair{}
	for _, svc := range slices.Sorted(maps.Keys(changes)) {
		for i := range live[svc] {
			sp := &live[svc][i]
			pairs[sp.identity()] = &pair{old: sp}
		}
		for i := range changes[svc] {
			sp := &changes[svc][i]
			if p := pairs[sp.identity()]; p != nil {
				p.new = sp
			} else {
				pairs[sp.identity()] = &pair{new: sp}
			}
		}
	}
	p := &txPlan{}
	var delExt, delSvc, delEp []string
	var addEp, addSvc, addExt []chainAdd
	for _, id := range slices.Sorted(maps.Keys(pairs)) {
		pr := pairs[id]
		if pr.old != nil && pr.new != nil && pr.old.Equal(pr.new) {
			continue
		}
		ownerKey := func(e element) element { return element{set: e.set, key: e.key} }
		oldE, newE := elements(pr.old), elements(pr.new)
		for _, e := range oldE {
			if !slices.Contains(newE, e) && owner[ownerKey(e)] == id {
				p.delElems = append(p.delElems, e)
				delete(owner, ownerKey(e))
			}
		}
		for _, e := range newE {
			if o, taken := owner[ownerKey(e)]; taken && o != id {
				continue
			}
			if !slices.Contains(oldE, e) || owner[ownerKey(e)] != id {
				p.addElems = append(p.addElems, e)
				owner[ownerKey(e)] = id
			}
		}
		oldC, newC := chains(pr.old), chains(pr.new)
		for _, name := range slices.Sorted(maps.Keys(oldC)) {
			if _, keep := newC[name]; keep {
				continue
			}
			p.flush = append(p.flush, name)
			switch oldC[name] {
			case "external":
				delExt = append(delExt, name)
			case "endpoint":
				delEp = append(delEp, name)
			case "endpoint-affinity":
				delEp = append(delEp, name)
				p.delSets = append(p.delSets, "affinity-"+strings.TrimPrefix(name, "endpoint-"))
			default:
				delSvc = append(delSvc, name)
			}
		}
		epByChain := map[string]Endpoint{}
		if pr.new != nil {
			for _, e := range pr.new.Endpoints {
				epByChain[pr.new.EndpointChain(e)] = e
			}
		}
		for _, name := range slices.Sorted(maps.Keys(newC)) {
			was, existed := oldC[name]
			if existed && was == newC[name] {
				continue
			}
			switch newC[name] {
			case "external":
				addExt = append(addExt, chainAdd{name: name, sp: pr.new, kind: "external"})
			case "endpoint", "endpoint-affinity":
				addEp = append(addEp, chainAdd{name: name, sp: pr.new, kind: "endpoint", ep: epByChain[name]})
			default:
				if existed {
					p.flush = append(p.flush, name)
				}
				addSvc = append(addSvc, chainAdd{name: name, sp: pr.new, kind: "service"})
			}
		}
	}
	p.delChains = slices.Concat(delExt, delSvc, delEp)
	p.addChains = slices.Concat(addEp, addSvc, addExt)
	return p
}

// emit queues the plan's messages on the connection.
func (k *Kernel) emit(p *txPlan, sets map[string]*nftables.Set) error {
	cc, t := k.conn, k.table
	group := func(es []element) map[string][]nftables.SetElement {
		out := map[string][]nftables.SetElement{}
		for _, e := range es {
			out[e.set] = append(out[e.set], nftables.SetElement{Key: []byte(e.key), VerdictData: gotoChain(e.chain)})
		}
		return out
	}
	for _, name := range slices.Sorted(maps.Keys(group(p.delElems))) {
		if err := cc.SetDeleteElements(sets[name], group(p.delElems)[name]); err != nil {
			return err
		}
	}
	for _, name := range p.flush {
		cc.FlushChain(&nftables.Chain{Name: name, Table: t})
	}
	for _, name := range p.delChains {
		cc.DelChain(&nftables.Chain{Name: name, Table: t})
	}
	for _, name := range p.delSets {
		cc.DelSet(&nftables.Set{Name: name, Table: t})
	}
	affinity := map[string]*nftables.Set{}
	for _, a := range p.addChains {
		if a.kind != "endpoint" || a.sp.AffinitySeconds <= 0 {
			continue
		}
		s := &nftables.Set{Table: t, Name: a.sp.AffinitySet(a.ep), KeyType: nftables.TypeIPAddr,
			HasTimeout: true, Timeout: time.Duration(a.sp.AffinitySeconds) * time.Second, Dynamic: true}
		if err := cc.AddSet(s, nil); err != nil {
			return err
		}
		affinity[s.Name] = s
	}
	for _, a := range p.addChains {
		ch := cc.AddChain(&nftables.Chain{Name: a.name, Table: t})
		switch a.kind {
		case "endpoint":
			k.endpointRules(ch, a.sp, a.ep, affinity[a.sp.AffinitySet(a.ep)])
		case "external":
			cc.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: setMasqMark()})
			cc.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{gotoChain(a.sp.Chain())}})
		case "service":
			if err := k.serviceRules(ch, a.sp, affinity); err != nil {
				return err
			}
		}
	}
	adds := group(p.addElems)
	for _, name := range slices.Sorted(maps.Keys(adds)) {
		if err := cc.SetAddElements(sets[name], adds[name]); err != nil {
			return err
		}
	}
	return nil
}

// endpointRules: a pod reaching itself through the Service (hairpin) is
// masqueraded, or the reply would skip the reverse NAT; then DNAT.
func (k *Kernel) endpointRules(ch *nftables.Chain, sp *ServicePort, e Endpoint, affinity *nftables.Set) {
	cc, t := k.conn, k.table
	ip := e.Addr.AsSlice()
	cc.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: slices.Concat([]expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip},
	}, setMasqMark())})
	if affinity != nil { // remember the client: update @affinity { ip saddr }
		cc.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
			&expr.Dynset{SrcRegKey: 1, SetName: affinity.Name, SetID: affinity.ID, Operation: unix.NFT_DYNSET_OP_UPDATE,
				Timeout: time.Duration(sp.AffinitySeconds) * time.Second},
		}})
	}
	cc.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		&expr.Immediate{Register: 1, Data: ip},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(e.Port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}})
}

// serviceRules: numgen random mod N → vmap of endpoint chains.
func (k *Kernel) serviceRules(ch *nftables.Chain, sp *ServicePort, affinity map[string]*nftables.Set) error {
	cc, t := k.conn, k.table
	m := &nftables.Set{Table: t, Anonymous: true, Constant: true, IsMap: true,
		KeyType: nftables.TypeInteger, DataType: nftables.TypeVerdict}
	elems := make([]nftables.SetElement, len(sp.Endpoints))
	for i, e := range sp.Endpoints {
		elems[i] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)), VerdictData: gotoChain(sp.EndpointChain(e))}
	}
	if err := cc.AddSet(m, elems); err != nil {
		return err
	}
	if sp.AffinitySeconds > 0 { // a known client goes back to its endpoint
		for _, e := range sp.Endpoints {
			cc.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				affinityLookup(sp.AffinitySet(e), affinity),
				gotoChain(sp.EndpointChain(e)),
			}})
		}
	}
	cc.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		&expr.Numgen{Register: 1, Modulus: uint32(len(sp.Endpoints)), Type: unix.NFT_NG_RANDOM},
		vmap(m),
	}})
	return nil
}

// base queues the fixed part of the table: maps, hooks, dispatch.
func (k *Kernel) base() (map[string]*nftables.Set, error) {
	cc, t := k.conn, k.table
	ipType, err := nftables.ConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	if err != nil {
		return nil, err
	}
	portType, err := nftables.ConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
	if err != nil {
		return nil, err
	}
	sets := map[string]*nftables.Set{}
	for _, s := range []struct {
		name string
		key  nftables.SetDatatype
	}{{mapServiceIPs, ipType}, {mapNodePorts, portType}, {mapNoEndpointIPs, ipType}, {mapNoEndpointPorts, portType}} {
		set := &nftables.Set{Table: t, Name: s.name, IsMap: true, Concatenation: true, KeyType: s.key, DataType: nftables.TypeVerdict}
		if err := cc.AddSet(set, nil); err != nil {
			return nil, err
		}
		sets[s.name] = set
	}
	rule := func(ch *nftables.Chain, e ...expr.Any) { cc.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: e}) }
	accept := nftables.ChainPolicyAccept
	hook := func(name string, typ nftables.ChainType, h *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		return cc.AddChain(&nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: h, Priority: prio, Policy: &accept})
	}

	reject := cc.AddChain(&nftables.Chain{Name: chainReject, Table: t})
	rule(reject, &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}) // port unreachable

	services := cc.AddChain(&nftables.Chain{Name: chainServices, Table: t})
	rule(services, append(loadDaddrProtoPort(), vmap(sets[mapServiceIPs]))...)
	rule(services, append(loadLocalProtoPort(), vmap(sets[mapNodePorts]))...)

	noEp := cc.AddChain(&nftables.Chain{Name: chainNoEndpoints, Table: t})
	ctNew := []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
	rule(noEp, slices.Concat(ctNew, loadDaddrProtoPort(), []expr.Any{vmap(sets[mapNoEndpointIPs])})...)
	rule(noEp, slices.Concat(ctNew, loadLocalProtoPort(), []expr.Any{vmap(sets[mapNoEndpointPorts])})...)

	jump := func(name string) expr.Any { return &expr.Verdict{Kind: expr.VerdictJump, Chain: name} }
	rule(hook("nat-prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest), jump(chainServices))
	rule(hook("nat-output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest), jump(chainServices))
	post := hook("nat-postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	if c := k.ClusterCIDR.Masked(); c.IsValid() && c.Addr().Is4() {
		// ip saddr <cluster> ip daddr != <cluster> masquerade
		rule(post, slices.Concat(matchNet(12, c, expr.CmpOpEq), matchNet(16, c, expr.CmpOpNeq), []expr.Any{&expr.Masq{}})...)
	}
	rule(post,
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(masqMark), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
		&expr.Masq{})
	for _, h := range []struct {
		name string
		hook *nftables.ChainHook
	}{{"filter-input", nftables.ChainHookInput}, {"filter-forward", nftables.ChainHookForward}, {"filter-output", nftables.ChainHookOutput}} {
		ch := hook(h.name, nftables.ChainTypeFilter, h.hook, nftables.ChainPriorityFilter)
		rule(ch, jump(chainNoEndpoints))
		if c := k.ClusterCIDR.Masked(); h.name == "filter-forward" && c.IsValid() && c.Addr().Is4() {
			// Pod traffic is forwarded whatever the policy of other
			// tables' forward chains in this one (kube-proxy's
			// cluster-cidr accept rules).
			accept := &expr.Verdict{Kind: expr.VerdictAccept}
			rule(ch, append(matchNet(12, c, expr.CmpOpEq), accept)...)
			rule(ch, append(matchNet(16, c, expr.CmpOpEq), accept)...)
		}
	}
	return sets, nil
}

// matchNet compares the IPv4 address at offset (12 source, 16
// destination) of the network header, masked to p's length, with p.
func matchNet(offset uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	mask := net.CIDRMask(p.Bits(), 32)
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

// affinityLookup matches a client in an affinity set, by ID when the set is
// created in the same transaction.
func affinityLookup(name string, created map[string]*nftables.Set) expr.Any {
	l := &expr.Lookup{SourceRegister: 1, SetName: name}
	if s := created[name]; s != nil {
		l.SetID = s.ID
	}
	return l
}
