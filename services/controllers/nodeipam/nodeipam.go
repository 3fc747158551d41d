package nodeipam

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:node-ipam"

// Defaults, as kube-controller-manager's --cluster-cidr (the flannel
// convention) and --node-cidr-mask-size.
const (
	DefaultClusterCIDR  = "10.244.0.0/16"
	DefaultNodeMaskSize = 24
)

// maxNodeMaskSize leaves a node room for a bridge address and pods (the
// agent refuses smaller ranges).
const maxNodeMaskSize = 30

var (
	nodeKind  = reconcile.MustKind("", "nodes")
	eventKind = reconcile.MustKind("", "events")
)

// Allocator hands out node ranges of one size from the cluster CIDR.
type Allocator struct {
	cluster netip.Prefix
	size    int    // node mask size
	count   uint32 // ranges in the cluster CIDR
}

// New checks the cluster CIDR and node mask size: an IPv4 prefix without
// host bits, a mask size longer than the prefix and at most /30.
func New(clusterCIDR string, nodeMaskSize int) (*Allocator, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(clusterCIDR))
	if err != nil {
		return nil, fmt.Errorf("cluster CIDR %q: %w", clusterCIDR, err)
	}
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("cluster CIDR %q: only IPv4 is supported (the agent's pod network is IPv4)", clusterCIDR)
	}
	if p != p.Masked() {
		return nil, fmt.Errorf("cluster CIDR %q: host bits are set (did you mean %s?)", clusterCIDR, p.Masked())
	}
	if nodeMaskSize <= p.Bits() || nodeMaskSize > maxNodeMaskSize {
		return nil, fmt.Errorf("node CIDR mask size %d: want a size between /%d (longer than the cluster CIDR %s) and /%d", nodeMaskSize, p.Bits()+1, p, maxNodeMaskSize)
	}
	if nodeMaskSize-p.Bits() > 24 {
		return nil, fmt.Errorf("node CIDR mask size %d: at most 2^24 node ranges in %s (use a longer cluster prefix or a shorter node mask)", nodeMaskSize, p)
	}
	return &Allocator{cluster: p, size: nodeMaskSize, count: 1 << (nodeMaskSize - p.Bits())}, nil
}

// String is the cluster CIDR and node size, for logs.
func (a *Allocator) String() string { return fmt.Sprintf("%s, /%d per node", a.cluster, a.size) }

// Range is the i-th node range.
func (a *Allocator) Range(i uint32) netip.Prefix {
	return netip.PrefixFrom(addrAdd(a.cluster.Addr(), i<<(32-a.size)), a.size)
}

// Free returns the lowest range that overlaps none of used.
func (a *Allocator) Free(used []netip.Prefix) (netip.Prefix, bool) {
	taken := map[uint32]bool{}
	for _, u := range used {
		if !u.Overlaps(a.cluster) {
			continue
		}
		if u.Bits() <= a.cluster.Bits() { // covers the whole cluster CIDR
			return netip.Prefix{}, false
		}
		first := a.index(u.Masked().Addr())
		n := uint32(1)
		if u.Bits() < a.size {
			n = 1 << (a.size - u.Bits())
		}
		for i := first; i < first+n && i < a.count; i++ {
			taken[i] = true
		}
	}
	for i := uint32(0); i < a.count; i++ {
		if !taken[i] {
			return a.Range(i), true
		}
	}
	return netip.Prefix{}, false
}

// index is the number of the node range holding addr (inside the cluster CIDR).
func (a *Allocator) index(addr netip.Addr) uint32 {
	return (u32(addr) - u32(a.cluster.Addr())) >> (32 - a.size)
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addrAdd(a netip.Addr, n uint32) netip.Addr {
	v := u32(a) + n
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// NodeCIDRs are the node's pod ranges (spec.podCIDRs, else spec.podCIDR);
// unparsable ones are skipped.
func NodeCIDRs(n *corev1.Node) []netip.Prefix {
	list := n.Spec.PodCIDRs
	if len(list) == 0 && n.Spec.PodCIDR != "" {
		list = []string{n.Spec.PodCIDR}
	}
	var out []netip.Prefix
	for _, c := range list {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Reconcile gives the node key a range when it has none.
func (a *Allocator) Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var node corev1.Node
	if err := reconcile.DecodeInto(o, &node); err != nil {
		return nil, err
	}
	if node.DeletionTimestamp != nil {
		return nil, nil
	}
	others := otherRanges(view, node.Name)
	if mine := NodeCIDRs(&node); len(mine) > 0 || node.Spec.PodCIDR != "" {
		for _, p := range mine {
			for _, q := range others {
				if p.Overlaps(q.cidr) {
					msg := fmt.Sprintf("pod CIDR %s of node %s overlaps %s of node %s: pods of both nodes may get the same addresses; give one node another range (delete and re-register it)", p, node.Name, q.cidr, q.node)
					return a.event(view, &node, "PodCIDRConflict", msg, now)
				}
			}
		}
		return nil, nil
	}
	used := make([]netip.Prefix, len(others))
	for i, q := range others {
		used[i] = q.cidr
	}
	free, ok := a.Free(used)
	if !ok {
		msg := fmt.Sprintf("node %s gets no pod CIDR: all ranges of %s are in use (%d nodes hold one); widen --cluster-cidr or delete nodes", node.Name, a, len(used))
		return a.event(view, &node, "CIDRNotAvailable", msg, now)
	}
	node.Spec.PodCIDR = free.String()
	node.Spec.PodCIDRs = []string{free.String()}
	ap, err := reconcile.Update(nodeKind, &node, o, events.ChangeSpec)
	if err != nil {
		return nil, err
	}
	return []reconcile.Append{ap}, nil
}

type nodeRange struct {
	node string
	cidr netip.Prefix
}

// otherRanges are the ranges of every node but self, in name order.
func otherRanges(view reconcile.View, self string) []nodeRange {
	objs, _ := view.List("", "nodes", "")
	var out []nodeRange
	for _, o := range objs {
		if o.Ref.Name == self {
			continue
		}
		var n corev1.Node
		if reconcile.DecodeInto(o, &n) != nil {
			continue
		}
		for _, p := range NodeCIDRs(&n) {
			out = append(out, nodeRange{n.Name, p})
		}
	}
	return out
}

// event records a Warning Event on the node once per node, reason and
// message: its name derives from them, and an existing one is not written
// again.
func (a *Allocator) event(view reconcile.View, node *corev1.Node, reason, msg string, now time.Time) ([]reconcile.Append, error) {
	sum := sha256.Sum256([]byte(string(node.UID) + "/" + reason + "/" + msg))
	name := node.Name + "." + reason[:1] + hex.EncodeToString(sum[:6])
	name = strings.ToLower(name)
	if _, ok := view.Get(events.Ref{Resource: "events", Namespace: metav1.NamespaceDefault, Name: name}); ok {
		return nil, nil
	}
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: node.Name, UID: node.UID},
		Reason:         reason, Message: msg, Type: corev1.EventTypeWarning, Count: 1,
		Source:         corev1.EventSource{Component: "node-ipam-controller"},
		FirstTimestamp: ts, LastTimestamp: ts,
		ReportingController: "node-ipam-controller", ReportingInstance: "node-ipam-controller",
	}
	ap, err := reconcile.Create(eventKind, ev, now, "event/"+name)
	if err != nil {
		return nil, err
	}
	return []reconcile.Append{ap}, nil
}

// Loop returns the controller's loop over log and view.
func Loop(log *events.Log, view *projections.Projection, a *Allocator) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: a.Reconcile,
		Keys:         func(ch projections.Change) []events.Ref { return Keys(view, ch) },
		ResyncKeys:   waiting,
		RequeueAfter: reconcile.Every(5*time.Minute, func(_ reconcile.View, o *projections.Object) bool { return isWaiting(o) }),
	}
}

// Keys maps a change to the nodes it concerns: a changed node; for a
// deleted node (its range is free again), every node still waiting.
func Keys(view reconcile.View, ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	if ref.Group != "" || ref.Resource != "nodes" {
		return nil
	}
	if ch.Type == projections.Deleted {
		return waiting(view)
	}
	return []events.Ref{ref}
}

// waiting are the nodes without a pod CIDR.
func waiting(view reconcile.View) []events.Ref {
	objs, _ := view.List("", "nodes", "")
	var out []events.Ref
	for _, o := range objs {
		if isWaiting(o) {
			out = append(out, o.Ref)
		}
	}
	return out
}

// isWaiting reports whether node o has no pod CIDR yet.
func isWaiting(o *projections.Object) bool {
	var n corev1.Node
	return reconcile.DecodeInto(o, &n) == nil && len(NodeCIDRs(&n)) == 0
}

// ClusterCIDR is the range node ranges come from.
func (a *Allocator) ClusterCIDR() string { return a.cluster.String() }
