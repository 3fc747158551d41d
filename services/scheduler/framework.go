package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// The extension points, one tiny interface each, as in upstream's
// scheduler framework. Plugins are values without state; what they derive
// from the pod once per decision lives in the Cycle.

// Plugin names itself in decisions and messages.
type Plugin interface{ Name() string }

// PreFilterPlugin derives per-pod state from the whole snapshot once per
// decision (counts by topology domain), before nodes are filtered.
type PreFilterPlugin interface {
	Plugin
	PreFilter(c *Cycle)
}

// FilterPlugin rejects the nodes a pod cannot run on. nil means it fits.
type FilterPlugin interface {
	Plugin
	Filter(c *Cycle, n *NodeInfo) *Status
}

// ScorePlugin ranks feasible nodes. Scores of every node are computed
// first, then Normalize maps them to 0..MaxNodeScore.
type ScorePlugin interface {
	Plugin
	Weight() int64
	Score(c *Cycle, n *NodeInfo) int64
	Normalize(c *Cycle, scores []int64)
}

// MaxNodeScore is the highest normalized score, as upstream.
const MaxNodeScore = 100

// Status is why a filter rejected a node.
type Status struct {
	Reasons []string
	// Unresolvable: removing pods from the node would not help, so
	// preemption does not consider it (upstream's UnschedulableAndUnresolvable).
	Unresolvable bool
}

func unschedulable(reasons ...string) *Status { return &Status{Reasons: reasons} }
func unresolvable(reasons ...string) *Status {
	return &Status{Reasons: reasons, Unresolvable: true}
}

// Cycle is one decision's state: the pod and what the prefilters derived.
type Cycle struct {
	Snapshot *Snapshot
	Pod      *PodInfo

	nodeAffinity nodeaffinity.RequiredNodeAffinity
	preferred    *nodeaffinity.PreferredSchedulingTerms
	interPod     *interPodState
	spread       *spreadState
	spreadScore  *spreadState
}

func newCycle(s *Snapshot, pi *PodInfo) *Cycle {
	c := &Cycle{Snapshot: s, Pod: pi, nodeAffinity: nodeaffinity.GetRequiredNodeAffinity(pi.Pod)}
	if a := pi.Pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		c.preferred, _ = nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	for _, p := range preFilters {
		p.PreFilter(c)
	}
	return c
}

// Filters run in upstream's order; a node's first failure is its reason.
var filters = []FilterPlugin{
	NodeReady{}, NodeUnschedulable{}, NodeName{}, TaintToleration{},
	NodeAffinity{}, NodeResourcesFit{}, PodTopologySpread{}, InterPodAffinity{},
}

var preFilters = []PreFilterPlugin{InterPodAffinity{}, PodTopologySpread{}}

// Scores with upstream's default weights.
var scorers = []ScorePlugin{
	NodeResourcesLeastAllocated{}, NodeResourcesBalancedAllocation{},
	NodeAffinity{}, TaintToleration{}, PodTopologySpread{},
}

// filter runs the filters on one node and returns the first failure.
func (c *Cycle) filter(n *NodeInfo) (string, *Status) {
	for _, f := range filters {
		if st := f.Filter(c, n); st != nil {
			return f.Name(), st
		}
	}
	return "", nil
}

// tolerates reports whether the pod tolerates a taint.
func tolerates(p *corev1.Pod, taint *corev1.Taint) bool {
	for i := range p.Spec.Tolerations {
		if p.Spec.Tolerations[i].ToleratesTaint(logger, taint, false) {
			return true
		}
	}
	return false
}
