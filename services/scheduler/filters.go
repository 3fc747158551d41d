package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// logger is what upstream's toleration helpers log to (they only log
// unparsable numeric toleration values).
var logger = klog.Background()

var (
	_ FilterPlugin = NodeReady{}
	_ FilterPlugin = NodeUnschedulable{}
	_ FilterPlugin = NodeName{}
	_ FilterPlugin = TaintToleration{}
	_ FilterPlugin = NodeAffinity{}
	_ FilterPlugin = NodeResourcesFit{}
	_ ScorePlugin  = TaintToleration{}
	_ ScorePlugin  = NodeAffinity{}
)

// Upstream's filter reasons, word for word: users grep for them.
const (
	ReasonUnschedulable       = "node(s) were unschedulable"
	ReasonNodeName            = "node(s) didn't match the requested node name"
	ReasonNodeAffinity        = "node(s) didn't match Pod's node affinity/selector"
	ReasonTooManyPods         = "Too many pods"
	ReasonInsufficientPrefix  = "Insufficient "
	reasonUntoleratedTaintFmt = "node(s) had untolerated taint {%s: %s}"
)

// NodeReady skips nodes whose Ready condition is not True. Upstream does
// this through the node.kubernetes.io/not-ready:NoSchedule taint the node
// lifecycle controller sets; wake checks the condition itself, so a pod
// that tolerates that taint (a DaemonSet's) may still land there, and the
// reason reads as upstream's.
type NodeReady struct{}

var notReadyTaint = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}

func (NodeReady) Name() string { return "NodeReady" }

func (NodeReady) Filter(c *Cycle, n *NodeInfo) *Status {
	if n.Ready || tolerates(c.Pod.Pod, &notReadyTaint) {
		return nil
	}
	return unresolvable(fmt.Sprintf(reasonUntoleratedTaintFmt, notReadyTaint.Key, notReadyTaint.Value))
}

// NodeUnschedulable skips cordoned nodes (spec.unschedulable) unless the
// pod tolerates node.kubernetes.io/unschedulable:NoSchedule.
type NodeUnschedulable struct{}

var unschedulableTaint = corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}

func (NodeUnschedulable) Name() string { return "NodeUnschedulable" }

func (NodeUnschedulable) Filter(c *Cycle, n *NodeInfo) *Status {
	if !n.Unschedulable || tolerates(c.Pod.Pod, &unschedulableTaint) {
		return nil
	}
	return unresolvable(ReasonUnschedulable)
}

// NodeName keeps only the node a pod names in spec.nodeName. (The
// scheduler never sees such pods, which are already bound; the plugin
// exists for preemption what-ifs and for parity.)
type NodeName struct{}

func (NodeName) Name() string { return "NodeName" }

func (NodeName) Filter(c *Cycle, n *NodeInfo) *Status {
	if want := c.Pod.Pod.Spec.NodeName; want != "" && want != n.Name {
		return unresolvable(ReasonNodeName)
	}
	return nil
}

// TaintToleration filters out nodes with a NoSchedule or NoExecute taint
// the pod does not tolerate, and scores nodes down for each untolerated
// PreferNoSchedule taint.
type TaintToleration struct{}

func (TaintToleration) Name() string  { return "TaintToleration" }
func (TaintToleration) Weight() int64 { return 3 }

func (TaintToleration) Filter(c *Cycle, n *NodeInfo) *Status {
	for i := range n.Node.Spec.Taints {
		t := &n.Node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(c.Pod.Pod, t) {
			return unresolvable(fmt.Sprintf(reasonUntoleratedTaintFmt, t.Key, t.Value))
		}
	}
	return nil
}

// Score counts the untolerated PreferNoSchedule taints; only tolerations
// with an empty or PreferNoSchedule effect count, as upstream.
func (TaintToleration) Score(c *Cycle, n *NodeInfo) int64 {
	var count int64
	for i := range n.Node.Spec.Taints {
		t := &n.Node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectPreferNoSchedule {
			continue
		}
		tolerated := false
		for _, tol := range c.Pod.Pod.Spec.Tolerations {
			if (tol.Effect == "" || tol.Effect == corev1.TaintEffectPreferNoSchedule) && tol.ToleratesTaint(logger, t, false) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			count++
		}
	}
	return count
}

func (TaintToleration) Normalize(_ *Cycle, scores []int64) { normalize(scores, true) }

// NodeAffinity enforces spec.nodeSelector and required node affinity, and
// scores preferred node affinity by the summed weights of matching terms.
type NodeAffinity struct{}

func (NodeAffinity) Name() string  { return "NodeAffinity" }
func (NodeAffinity) Weight() int64 { return 2 }

func (NodeAffinity) Filter(c *Cycle, n *NodeInfo) *Status {
	if ok, _ := c.nodeAffinity.Match(n.Node); !ok {
		return unresolvable(ReasonNodeAffinity)
	}
	return nil
}

func (NodeAffinity) Score(c *Cycle, n *NodeInfo) int64 {
	if c.preferred == nil {
		return 0
	}
	return c.preferred.Score(n.Node)
}

func (NodeAffinity) Normalize(_ *Cycle, scores []int64) { normalize(scores, false) }

// NodeResourcesFit checks the pod's requests (cpu, memory,
// ephemeral-storage) and one more pod against what the node has left.
type NodeResourcesFit struct{}

func (NodeResourcesFit) Name() string { return "NodeResourcesFit" }

func (NodeResourcesFit) Filter(c *Cycle, n *NodeInfo) *Status {
	return fits(c.Pod, n)
}

func fits(pi *PodInfo, n *NodeInfo) *Status {
	var reasons []string
	if int64(len(n.pods))+1 > n.Allocatable.Pods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	r := pi.Requests
	if r.MilliCPU > 0 && r.MilliCPU > n.Allocatable.MilliCPU-n.Requested.MilliCPU {
		reasons = append(reasons, ReasonInsufficientPrefix+string(corev1.ResourceCPU))
	}
	if r.Memory > 0 && r.Memory > n.Allocatable.Memory-n.Requested.Memory {
		reasons = append(reasons, ReasonInsufficientPrefix+string(corev1.ResourceMemory))
	}
	if r.EphemeralStorage > 0 && r.EphemeralStorage > n.Allocatable.EphemeralStorage-n.Requested.EphemeralStorage {
		reasons = append(reasons, ReasonInsufficientPrefix+string(corev1.ResourceEphemeralStorage))
	}
	if reasons == nil {
		return nil
	}
	return unschedulable(reasons...)
}

// normalize is upstream's DefaultNormalizeScore: scale to 0..MaxNodeScore
// by the highest score; reverse turns "fewer is better" counts around.
func normalize(scores []int64, reverse bool) {
	var highest int64
	for _, s := range scores {
		highest = max(highest, s)
	}
	if highest == 0 {
		if reverse {
			for i := range scores {
				scores[i] = MaxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = MaxNodeScore * s / highest
		if reverse {
			s = MaxNodeScore - s
		}
		scores[i] = s
	}
}
