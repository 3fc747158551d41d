package scheduler

import (
	"math"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Upstream's preemption messages.
const (
	ReasonNoVictims         = "No preemption victims found for incoming pod"
	ReasonPreemptNotHelpful = "Preemption is not helpful for scheduling"
	msgPreemptNever         = "not eligible due to preemptionPolicy=Never."
	msgTerminatingVictim    = "not eligible due to a terminating pod on the nominated node."
)

type preemption struct {
	node    string
	victims []*PodInfo // most important first
}

// preempt is upstream's DefaultPreemption, without PodDisruptionBudgets
// (they are not consulted): on every node whose failure removing pods could
// fix, remove all lower-priority pods; if the pod then fits, put back as
// many as still let it fit, most important first; the rest are victims.
// The node chosen has the least important highest victim, then the lowest
// sum of victim priorities, then the fewest victims, then the first name.
// Without a candidate, the message explains each node as upstream does.
//
// Inter-pod affinity and topology spread counts are not recomputed
// without the victims, so preemption never helps a pod that only an
// existing pod's anti-affinity or a spread constraint keeps out.
func (c *Cycle) preempt(failures []Failure) (*preemption, string) {
	pod := c.Pod.Pod
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == corev1.PreemptNever {
		return nil, msgPreemptNever
	}
	if n, ok := c.Snapshot.Node(pod.Status.NominatedNodeName); ok {
		for _, p := range n.pods {
			if p.Pod.DeletionTimestamp != nil && p.Priority < c.Pod.Priority {
				return nil, msgTerminatingVictim
			}
		}
	}
	sorted := slices.Clone(failures)
	slices.SortFunc(sorted, func(a, b Failure) int { return strings.Compare(a.Node, b.Node) })
	statuses := make([]Failure, 0, len(sorted))
	var best *preemption
	for _, f := range sorted {
		if f.Unresolvable {
			statuses = append(statuses, Failure{Node: f.Node, Reasons: []string{ReasonPreemptNotHelpful}})
			continue
		}
		n, _ := c.Snapshot.Node(f.Node)
		victims, st := c.selectVictims(n)
		if st != nil {
			statuses = append(statuses, Failure{Node: f.Node, Reasons: st.Reasons})
			continue
		}
		cand := &preemption{node: n.Name, victims: victims}
		if best == nil || better(cand, best) {
			best = cand
		}
	}
	if best == nil {
		return nil, fitMessage(len(failures), statuses)
	}
	return best, ""
}

func (c *Cycle) selectVictims(n *NodeInfo) ([]*PodInfo, *Status) {
	var potential []*PodInfo
	for _, p := range n.Pods() {
		if p.Priority < c.Pod.Priority {
			potential = append(potential, p)
		}
	}
	if len(potential) == 0 {
		return nil, unresolvable(ReasonNoVictims)
	}
	what := n.without(potential)
	if _, st := c.filter(what); st != nil {
		return nil, st
	}
	slices.SortStableFunc(potential, moreImportant)
	var victims []*PodInfo
	for _, p := range potential {
		what.addPod(p)
		if _, st := c.filter(what); st != nil {
			what.removePod(p.Key)
			victims = append(victims, p)
		}
	}
	return victims, nil
}

// moreImportant orders pods by priority, then by start time (older first).
func moreImportant(a, b *PodInfo) int {
	if a.Priority != b.Priority {
		return int(b.Priority) - int(a.Priority)
	}
	at, bt := a.Pod.Status.StartTime, b.Pod.Status.StartTime
	switch {
	case at != nil && bt != nil && !at.Equal(bt):
		if at.Before(bt) {
			return -1
		}
		return 1
	case at != nil && bt == nil:
		return -1
	case at == nil && bt != nil:
		return 1
	}
	return strings.Compare(a.Key, b.Key)
}

func better(a, b *preemption) bool {
	if len(a.victims) == 0 || len(b.victims) == 0 {
		return len(a.victims) < len(b.victims)
	}
	if a.victims[0].Priority != b.victims[0].Priority {
		return a.victims[0].Priority < b.victims[0].Priority
	}
	if sa, sb := prioritySum(a.victims), prioritySum(b.victims); sa != sb {
		return sa < sb
	}
	return len(a.victims) < len(b.victims)
}

// prioritySum adds MaxInt32+1 to each priority, as upstream, so that
// negative priorities still count as victims.
func prioritySum(vs []*PodInfo) int64 {
	var s int64
	for _, v := range vs {
		s += int64(v.Priority) + math.MaxInt32 + 1
	}
	return s
}
