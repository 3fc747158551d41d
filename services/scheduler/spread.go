package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

var (
	_ PreFilterPlugin = PodTopologySpread{}
	_ FilterPlugin    = PodTopologySpread{}
	_ ScorePlugin     = PodTopologySpread{}
)

// Upstream's topology spread reasons.
const (
	ReasonSpreadNotMatch     = "node(s) didn't match pod topology spread constraints"
	ReasonSpreadMissingLabel = "node(s) didn't match pod topology spread constraints (missing required label)"
)

type spreadConstraint struct {
	maxSkew       int32
	key           string
	selector      labels.Selector
	minDomains    int32
	honorAffinity bool // nodeAffinityPolicy: Honor (the default)
	honorTaints   bool // nodeTaintsPolicy: Honor (default Ignore)
	selfMatch     int
}

// spreadState counts the pods matching each constraint per domain, over
// the nodes the constraints apply to.
type spreadState struct {
	constraints []spreadConstraint
	counts      []map[string]int
	min         []int
}

// PodTopologySpread enforces whenUnsatisfiable: DoNotSchedule constraints
// (maxSkew, minDomains, nodeAffinityPolicy, nodeTaintsPolicy,
// matchLabelKeys) and scores ScheduleAnyway ones, as upstream. The
// cluster-level default constraints upstream adds to pods of Services and
// ReplicaSets are not applied.
type PodTopologySpread struct{}

func (PodTopologySpread) Name() string  { return "PodTopologySpread" }
func (PodTopologySpread) Weight() int64 { return 2 }

func (PodTopologySpread) PreFilter(c *Cycle) {
	c.spread = buildSpread(c, corev1.DoNotSchedule)
	c.spreadScore = buildSpread(c, corev1.ScheduleAnyway)
}

func buildSpread(c *Cycle, when corev1.UnsatisfiableConstraintAction) *spreadState {
	pod := c.Pod.Pod
	var cs []spreadConstraint
	for _, tc := range pod.Spec.TopologySpreadConstraints {
		if tc.WhenUnsatisfiable != when {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(tc.LabelSelector)
		if err != nil {
			sel = labels.Nothing()
		}
		if sel, err = withLabelKeys(sel, pod.Labels, tc.MatchLabelKeys, nil); err != nil {
			sel = labels.Nothing()
		}
		sc := spreadConstraint{
			maxSkew: tc.MaxSkew, key: tc.TopologyKey, selector: sel, minDomains: 1,
			honorAffinity: tc.NodeAffinityPolicy == nil || *tc.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
			honorTaints:   tc.NodeTaintsPolicy != nil && *tc.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor,
		}
		if tc.MinDomains != nil {
			sc.minDomains = *tc.MinDomains
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			sc.selfMatch = 1
		}
		cs = append(cs, sc)
	}
	if len(cs) == 0 {
		return nil
	}
	st := &spreadState{constraints: cs, counts: newCounts(len(cs)), min: make([]int, len(cs))}
	for _, n := range c.Snapshot.Nodes() {
		if !hasKeys(n, cs) {
			continue
		}
		for i := range cs {
			sc := &cs[i]
			if sc.honorAffinity {
				if ok, _ := c.nodeAffinity.Match(n.Node); !ok {
					continue
				}
			}
			if sc.honorTaints && (TaintToleration{}).Filter(c, n) != nil {
				continue
			}
			v := n.Node.Labels[sc.key]
			count := st.counts[i][v]
			for _, p := range n.pods {
				if p.Pod.Namespace == pod.Namespace && p.Pod.DeletionTimestamp == nil && p.Key != c.Pod.Key &&
					sc.selector.Matches(labels.Set(p.Pod.Labels)) {
					count++
				}
			}
			st.counts[i][v] = count
		}
	}
	for i := range cs {
		lowest := math.MaxInt
		for _, n := range st.counts[i] {
			lowest = min(lowest, n)
		}
		if lowest == math.MaxInt || int32(len(st.counts[i])) < cs[i].minDomains {
			lowest = 0
		}
		st.min[i] = lowest
	}
	return st
}

func hasKeys(n *NodeInfo, cs []spreadConstraint) bool {
	for _, sc := range cs {
		if _, ok := n.Node.Labels[sc.key]; !ok {
			return false
		}
	}
	return true
}

func (PodTopologySpread) Filter(c *Cycle, n *NodeInfo) *Status {
	st := c.spread
	if st == nil {
		return nil
	}
	if !hasKeys(n, st.constraints) {
		return unresolvable(ReasonSpreadMissingLabel)
	}
	for i, sc := range st.constraints {
		v := n.Node.Labels[sc.key]
		if skew := st.counts[i][v] + sc.selfMatch - st.min[i]; skew > int(sc.maxSkew) {
			return unschedulable(ReasonSpreadNotMatch)
		}
	}
	return nil
}

// Score is upstream's: matching pods in the node's domain, weighted by
// log(domains+2), plus maxSkew-1; fewer is better. Nodes without the keys
// score -1 here and 0 after normalizing.
func (PodTopologySpread) Score(c *Cycle, n *NodeInfo) int64 {
	st := c.spreadScore
	if st == nil {
		return 0
	}
	if !hasKeys(n, st.constraints) {
		return -1
	}
	var score float64
	for i, sc := range st.constraints {
		w := math.Log(float64(len(st.counts[i]) + 2))
		score += float64(st.counts[i][n.Node.Labels[sc.key]])*w + float64(sc.maxSkew-1)
	}
	return int64(math.Round(score))
}

func (PodTopologySpread) Normalize(c *Cycle, scores []int64) {
	if c.spreadScore == nil {
		return
	}
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, s := range scores {
		if s >= 0 {
			lo, hi = min(lo, s), max(hi, s)
		}
	}
	for i, s := range scores {
		switch {
		case s < 0:
			scores[i] = 0
		case hi == 0:
			scores[i] = MaxNodeScore
		default:
			scores[i] = MaxNodeScore * (hi + lo - s) / hi
		}
	}
}
