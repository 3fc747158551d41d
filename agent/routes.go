package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/network"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/nodeipam"
	"github.com/wakehq/wake/services/reconcile"
)

// DefaultClusterCIDR is the pod network of the whole cluster (nodeipam's
// default): traffic from pods to addresses outside it is masqueraded.
const DefaultClusterCIDR = nodeipam.DefaultClusterCIDR

// routeResync re-applies the routes at this period, so that a route
// someone deleted comes back.
const routeResync = time.Minute

var nodeEventKind = reconcile.MustKind("", "events")

// podCIDR returns the node's pod CIDR. The node's spec.podCIDR wins; a
// node without one gets Config.PodCIDR when it is set (written into the
// node's spec), else the agent waits for the node IPAM controller.
func (a *Agent) podCIDR(ctx context.Context, node *corev1.Node) (string, error) {
	ref := events.Ref{Resource: "nodes", Name: a.cfg.NodeName}
	for attempt := 0; ; attempt++ {
		if node.Spec.PodCIDR != "" {
			if a.cfg.PodCIDR != "" && node.Spec.PodCIDR != a.cfg.PodCIDR {
				a.log.Warn("the node already has a pod CIDR; --pod-cidr is ignored", "podCIDR", node.Spec.PodCIDR, "configured", a.cfg.PodCIDR)
			}
			return node.Spec.PodCIDR, nil
		}
		if a.cfg.PodCIDR == "" {
			return a.waitPodCIDR(ctx, ref)
		}
		o, ok := a.cfg.View.Get(ref)
		if !ok {
			return "", fmt.Errorf("node %s: not in the view", a.cfg.NodeName)
		}
		next := node.DeepCopy()
		next.Spec.PodCIDR, next.Spec.PodCIDRs = a.cfg.PodCIDR, podCIDRs(a.cfg.PodCIDR)
		ap, err := reconcile.Update(nodeKind, next, o, events.ChangeSpec)
		if err != nil {
			return "", err
		}
		if _, err = a.append(ctx, ap); err == nil {
			return a.cfg.PodCIDR, nil
		}
		if !isConflict(err) || attempt >= 10 {
			return "", err
		}
		if err := a.catchUp(ctx); err != nil {
			return "", err
		}
		if o, ok = a.cfg.View.Get(ref); !ok {
			return "", fmt.Errorf("node %s deleted", a.cfg.NodeName)
		}
		if node, err = decodeNode(o); err != nil {
			return "", err
		}
	}
}

// waitPodCIDR waits until the node has a pod CIDR, logging while it waits.
func (a *Agent) waitPodCIDR(ctx context.Context, ref events.Ref) (string, error) {
	start, logged := time.Now(), time.Now()
	for {
		seq := a.cfg.View.Seq()
		if o, ok := a.cfg.View.Get(ref); ok {
			if n, err := decodeNode(o); err == nil && n.Spec.PodCIDR != "" {
				a.log.Info("pod CIDR assigned", "podCIDR", n.Spec.PodCIDR, "waited", time.Since(start).Round(time.Millisecond))
				return n.Spec.PodCIDR, nil
			}
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		a.cfg.View.WaitFor(wctx, seq+1)
		cancel()
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if time.Since(logged) >= 10*time.Second {
			logged = time.Now()
			a.log.Info("waiting for a pod CIDR: the node IPAM controller (wake controllers --cluster-cidr) has not given this node one yet; set --pod-cidr to choose one", "waited", time.Since(start).Round(time.Second))
		}
	}
}

// routes keeps one route per other node in the agent's network namespace:
// that node's pod CIDR via its InternalIP (host-gateway), following Node
// changes.
func (a *Agent) routes(ctx context.Context) error {
	r := network.NewRoutes(nil)
	reported := map[string]bool{}
	sync := func() {
		peers, _ := a.peers()
		want, problems := network.PlanRoutes(a.net.CIDR(), peers)
		more, err := r.Sync(want)
		if err != nil {
			a.log.Error("routes to other nodes' pods not fully programmed", "err", err)
		}
		for _, p := range append(problems, more...) {
			if reported[p.Msg] {
				continue
			}
			reported[p.Msg] = true
			a.log.Warn("no route to a node's pods", "peer", p.Node, "reason", p.Reason, "msg", p.Msg)
			if err := a.nodeEvent(ctx, p.Reason, p.Msg); err != nil && ctx.Err() == nil {
				a.log.Warn("event not recorded", "err", err)
			}
		}
	}
	w, err := a.cfg.View.Watch(a.cfg.View.Seq())
	if err != nil {
		return err
	}
	sync()
	for {
		wctx, cancel := context.WithTimeout(ctx, routeResync)
		batch, err := w.Next(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			sync()
			continue
		case errors.Is(err, projections.ErrExpired):
			if w, err = a.cfg.View.Watch(a.cfg.View.Seq()); err != nil {
				return err
			}
			sync()
			continue
		case err != nil:
			return err
		}
		for _, ch := range batch {
			if ch.Object != nil && ch.Object.Ref.Group == "" && ch.Object.Ref.Resource == "nodes" && ch.Object.Ref.Name != a.cfg.NodeName {
				sync()
				break
			}
		}
	}
}

// peers are the other nodes, as network.PlanRoutes wants them.
func (a *Agent) peers() ([]network.Peer, error) {
	objs, _ := a.cfg.View.List("", "nodes", "")
	var out []network.Peer
	for _, o := range objs {
		if o.Ref.Name == a.cfg.NodeName {
			continue
		}
		n, err := decodeNode(o)
		if err != nil {
			continue
		}
		out = append(out, network.Peer{Node: n.Name, CIDRs: nodeipam.NodeCIDRs(n), IP: internalIPOf(n)})
	}
	return out, nil
}

// internalIPOf is the node's first IPv4 InternalIP address.
func internalIPOf(n *corev1.Node) netip.Addr {
	for _, ad := range n.Status.Addresses {
		if ad.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(ad.Address); err == nil && ip.Unmap().Is4() {
			return ip.Unmap()
		}
	}
	return netip.Addr{}
}

// nodeEvent records a Warning Event on this node, once per message (its
// name derives from it; an existing one is not written again).
func (a *Agent) nodeEvent(ctx context.Context, reason, msg string) error {
	sum := sha256.Sum256([]byte(a.cfg.NodeName + "/" + reason + "/" + msg))
	name := a.cfg.NodeName + "." + hex.EncodeToString(sum[:8])
	if _, ok := a.cfg.View.Get(events.Ref{Resource: "events", Namespace: metav1.NamespaceDefault, Name: name}); ok {
		return nil
	}
	now := a.now()
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: metav1.NamespaceDefault},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: a.cfg.NodeName},
		Reason:         reason, Message: msg, Type: corev1.EventTypeWarning, Count: 1,
		Source:         corev1.EventSource{Component: "kubelet", Host: a.cfg.NodeName},
		FirstTimestamp: ts, LastTimestamp: ts,
		ReportingController: "wake/agent", ReportingInstance: a.cfg.NodeName,
	}
	ap, err := reconcile.Create(nodeEventKind, ev, now, "event/"+name)
	if err != nil {
		return err
	}
	if _, err := a.append(ctx, ap); err != nil && !isConflict(err) {
		return err
	}
	return nil
}

// checkNetworkConfig refuses addresses and ranges that do not parse.
func checkNetworkConfig(cfg Config) error {
	if cfg.PodCIDR != "" {
		p, err := netip.ParsePrefix(cfg.PodCIDR)
		if err != nil || !p.Addr().Is4() || p != p.Masked() || p.Bits() > 30 {
			return fmt.Errorf("agent: pod CIDR %q: want an IPv4 prefix of /30 or larger without host bits, such as 10.244.1.0/24", cfg.PodCIDR)
		}
	}
	if p, err := netip.ParsePrefix(cfg.ClusterCIDR); err != nil || !p.Addr().Is4() || p != p.Masked() {
		return fmt.Errorf("agent: cluster CIDR %q: want an IPv4 prefix without host bits, such as %s", cfg.ClusterCIDR, DefaultClusterCIDR)
	}
	if cfg.NodeIP != "" {
		if ip, err := netip.ParseAddr(cfg.NodeIP); err != nil || !ip.Is4() {
			return fmt.Errorf("agent: node IP %q: want an IPv4 address of this node", cfg.NodeIP)
		}
	}
	return nil
}

// podCIDRs is spec.podCIDRs for a spec.podCIDR.
func podCIDRs(cidr string) []string {
	if cidr == "" {
		return nil
	}
	return []string{cidr}
}
