package network

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol marks the routes to other nodes' pod CIDRs as wake's
// (`ip route show proto 77`): Sync removes only routes carrying it.
const RouteProtocol netlink.RouteProtocol = 77

// Peer is another node as its Node object says: its pod CIDRs and the
// InternalIP they are reached through.
type Peer struct {
	Node  string
	CIDRs []netip.Prefix
	IP    netip.Addr
}

// Route sends a node's pod CIDR to that node's address (host-gateway).
type Route struct {
	Node string
	Dst  netip.Prefix
	Via  netip.Addr
}

func (r Route) String() string { return fmt.Sprintf("%s via %s (node %s)", r.Dst, r.Via, r.Node) }

// Problem is a peer that gets no route, and why.
type Problem struct {
	Node   string
	Reason string // a CamelCase reason for an Event
	Msg    string
}

// PlanRoutes is the routes this node (own: its pod CIDR) needs to its
// peers, sorted by destination: one per IPv4 pod CIDR of each peer with an
// IPv4 address. A CIDR that overlaps this node's, or one already routed
// to another peer (the first by node name wins), is a Problem instead.
func PlanRoutes(own netip.Prefix, peers []Peer) ([]Route, []Problem) {
	peers = slices.Clone(peers)
	slices.SortFunc(peers, func(a, b Peer) int { return cmp.Compare(a.Node, b.Node) })
	var out []Route
	var problems []Problem
	for _, p := range peers {
		if len(p.CIDRs) == 0 {
			continue // no range yet: nothing to route
		}
		if !p.IP.Is4() {
			problems = append(problems, Problem{p.Node, "NoNodeIP", fmt.Sprintf("node %s has no IPv4 InternalIP: its pods are unreachable from this node", p.Node)})
			continue
		}
	cidrs:
		for _, c := range p.CIDRs {
			c = c.Masked()
			if !c.Addr().Is4() {
				continue
			}
			if own.IsValid() && c.Overlaps(own) {
				problems = append(problems, Problem{p.Node, "PodCIDRConflict", fmt.Sprintf("pod CIDR %s of node %s overlaps this node's %s: not routed", c, p.Node, own)})
				continue
			}
			for _, r := range out {
				if r.Dst.Overlaps(c) {
					problems = append(problems, Problem{p.Node, "PodCIDRConflict", fmt.Sprintf("pod CIDR %s of node %s overlaps %s of node %s: not routed", c, p.Node, r.Dst, r.Node)})
					continue cidrs
				}
			}
			out = append(out, Route{Node: p.Node, Dst: c, Via: p.IP.Unmap()})
		}
	}
	slices.SortFunc(out, func(a, b Route) int { return a.Dst.Addr().Compare(b.Dst.Addr()) })
	return out, problems
}

// Routes keeps the kernel's routes to other nodes' pod CIDRs in one
// network namespace.
type Routes struct {
	h *netlink.Handle
}

// NewRoutes programs the namespace of h (nil: the agent's own).
func NewRoutes(h *netlink.Handle) *Routes {
	if h == nil {
		h = &netlink.Handle{} // the package's: the calling thread's namespace
	}
	return &Routes{h: h}
}

// Sync makes wake's routes exactly want: each added or changed with one
// RouteReplace, stale ones deleted. A route whose next hop is not on a
// link this node shares (reaching it needs a gateway, or it is one of this
// node's own addresses) is not installed and comes back as a Problem: a
// host-gateway network needs the nodes on one L2 segment. err gathers
// what the kernel refused.
func (r *Routes) Sync(want []Route) ([]Problem, error) {
	have, err := r.List()
	if err != nil {
		return nil, err
	}
	var problems []Problem
	var errs []error
	keep := map[netip.Prefix]bool{}
	for _, w := range want {
		link, why := r.onLink(w.Via)
		if why != "" {
			problems = append(problems, Problem{w.Node, "NodeNotOnLink", fmt.Sprintf("no route to pod CIDR %s of node %s: next hop %s %s", w.Dst, w.Node, w.Via, why)})
			continue
		}
		keep[w.Dst] = true
		if cur, ok := have[w.Dst]; ok && cur.Gw.Equal(w.Via.AsSlice()) && cur.LinkIndex == link {
			continue
		}
		rt := &netlink.Route{
			Dst:       prefixNet(w.Dst),
			Gw:        w.Via.AsSlice(),
			LinkIndex: link,
			Protocol:  RouteProtocol,
			Scope:     netlink.SCOPE_UNIVERSE,
		}
		if err := r.h.RouteReplace(rt); err != nil {
			errs = append(errs, fmt.Errorf("route %s: %w", w, err))
		}
	}
	for dst, cur := range have {
		if keep[dst] {
			continue
		}
		if err := r.h.RouteDel(&cur); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("delete route %s: %w", dst, err))
		}
	}
	return problems, errors.Join(errs...)
}

// List is wake's routes in the namespace, by destination.
func (r *Routes) List() (map[netip.Prefix]netlink.Route, error) {
	rs, err := r.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	out := map[netip.Prefix]netlink.Route{}
	for _, rt := range rs {
		if rt.Dst == nil {
			continue
		}
		ones, _ := rt.Dst.Mask.Size()
		a, ok := netip.AddrFromSlice(rt.Dst.IP)
		if !ok {
			continue
		}
		out[netip.PrefixFrom(a.Unmap(), ones)] = rt
	}
	return out, nil
}

// onLink returns the link that reaches via directly, or why it does not.
func (r *Routes) onLink(via netip.Addr) (int, string) {
	rs, err := r.h.RouteGet(via.AsSlice())
	if err != nil || len(rs) == 0 {
		return 0, fmt.Sprintf("is unreachable (%v)", err)
	}
	rt := rs[0]
	switch {
	case rt.Type == unix.RTN_LOCAL:
		return 0, "is an address of this node"
	case rt.Gw != nil:
		return 0, fmt.Sprintf("is not on a link this node shares (reached via gateway %s); host-gateway routing needs the nodes on one network segment", rt.Gw)
	case rt.LinkIndex == 0:
		return 0, "has no outgoing link"
	}
	return rt.LinkIndex, ""
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
