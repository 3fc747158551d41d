package agent

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/network"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/nodeipam"
	"github.com/wakehq/wake/services/reconcile"
)

// TestPodCIDRFromControllerAndRoutes: an agent without --pod-cidr waits
// for the node IPAM controller, runs pods in the range it got, and keeps
// a route to another node's pod CIDR through that node's InternalIP (no
// route, and a Warning Event, when the InternalIP is not on a shared link).
// No traffic is sent: the other nodes are Node objects only.
func TestPodCIDRFromControllerAndRoutes(t *testing.T) {
	alloc, err := nodeipam.New("10.253.0.0/16", 24)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, func(c *Config) {
		c.PodCIDR, c.ClusterCIDR, c.NodeRoutes = "", "10.253.0.0/16", true
	}, func(log *events.Log, view *projections.Projection) *reconcile.Loop {
		return nodeipam.Loop(log, view, alloc)
	})
	node := h.waitNode(t)
	h.wait(t, 10*time.Second, "pod CIDR assigned", func() bool {
		node = h.waitNode(t)
		return node.Spec.PodCIDR != ""
	})
	if node.Spec.PodCIDR != "10.253.0.0/24" || len(node.Spec.PodCIDRs) != 1 {
		t.Fatalf("node spec %+v, want 10.253.0.0/24 from the controller", node.Spec)
	}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr(int64(1)),
		Containers:                    []corev1.Container{{Name: "c", Args: []string{"sleep"}}},
	}})
	p := h.waitPod(t, "p", "Running", running)
	if ip := netip.MustParseAddr(p.Status.PodIP); !netip.MustParsePrefix("10.253.0.0/24").Contains(ip) {
		t.Errorf("pod IP %s outside the node's range", ip)
	}

	// Another node on the bridge's link (an address of 10.253.0.0/24 that
	// no pod holds), and one far away.
	near := peerNode(t, h, "peer-near", "10.253.0.250")
	peerNode(t, h, "peer-far", "203.0.113.7")
	var nearCIDR string
	h.wait(t, 10*time.Second, "route to the near peer's pods", func() bool {
		nearCIDR = podCIDROf(h, near)
		return nearCIDR != "" && hasRoute(nearCIDR, "10.253.0.250")
	})
	h.wait(t, 10*time.Second, "Warning event for the far peer", func() bool {
		objs, _ := h.view.List("", "events", "default")
		for _, o := range objs {
			var ev corev1.Event
			if reconcile.DecodeInto(o, &ev) == nil && ev.Reason == "NodeNotOnLink" && strings.Contains(ev.Message, "peer-far") {
				return true
			}
		}
		return false
	})
	farCIDR := podCIDROf(h, "peer-far")
	if hasRoute(farCIDR, "") {
		t.Errorf("a route to %s (far peer) was installed", farCIDR)
	}
	// The near peer leaves: its route goes.
	o, _ := h.view.Get(events.Ref{Resource: "nodes", Name: near})
	h.appendAs(t, must(reconcile.Delete(nodeKind, o, time.Now())))
	h.wait(t, 10*time.Second, "route removed", func() bool { return !hasRoute(nearCIDR, "") })
}

func peerNode(t *testing.T, h *harness, name, ip string) string {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}
	h.appendAs(t, must(reconcile.Create(nodeKind, n, time.Now(), "node/"+name)))
	return name
}

func podCIDROf(h *harness, name string) string {
	o, ok := h.view.Get(events.Ref{Resource: "nodes", Name: name})
	if !ok {
		return ""
	}
	n, err := decodeNode(o)
	if err != nil {
		return ""
	}
	return n.Spec.PodCIDR
}

// hasRoute reports whether wake's route to cidr is in the agent's (this
// process's) namespace, via gw when gw is set.
func hasRoute(cidr, gw string) bool {
	if cidr == "" {
		return false
	}
	have, err := network.NewRoutes(nil).List()
	if err != nil {
		return false
	}
	r, ok := have[netip.MustParsePrefix(cidr)]
	return ok && (gw == "" || r.Gw.Equal(net.ParseIP(gw)))
}
