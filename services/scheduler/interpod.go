package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

var (
	_ PreFilterPlugin = InterPodAffinity{}
	_ FilterPlugin    = InterPodAffinity{}
)

// Upstream's inter-pod affinity reasons.
const (
	ReasonAffinityNotMatch             = "node(s) didn't match pod affinity rules"
	ReasonAntiAffinityNotMatch         = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAffinityNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules"
)

// affinityTerm is a parsed PodAffinityTerm.
type affinityTerm struct {
	namespaces    map[string]bool
	allNamespaces bool
	selector      labels.Selector
	topologyKey   string
}

// parseTerms parses required terms of pod p. Namespaces: the listed ones,
// or p's own when neither namespaces nor namespaceSelector is given; an
// empty namespaceSelector ({}) means every namespace. A non-empty
// namespaceSelector needs namespace labels, which the snapshot does not
// hold: it is treated as matching no namespace beyond the listed ones.
func parseTerms(p *corev1.Pod, terms []corev1.PodAffinityTerm) ([]affinityTerm, error) {
	out := make([]affinityTerm, 0, len(terms))
	for _, t := range terms {
		sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
		if err != nil {
			return nil, err
		}
		sel, err = withLabelKeys(sel, p.Labels, t.MatchLabelKeys, t.MismatchLabelKeys)
		if err != nil {
			return nil, err
		}
		at := affinityTerm{selector: sel, topologyKey: t.TopologyKey, namespaces: map[string]bool{}}
		for _, ns := range t.Namespaces {
			at.namespaces[ns] = true
		}
		switch {
		case t.NamespaceSelector != nil && len(t.NamespaceSelector.MatchLabels) == 0 && len(t.NamespaceSelector.MatchExpressions) == 0:
			at.allNamespaces = true
		case len(t.Namespaces) == 0 && t.NamespaceSelector == nil:
			at.namespaces[p.Namespace] = true
		}
		out = append(out, at)
	}
	return out, nil
}

// withLabelKeys adds matchLabelKeys (key in the pod's value) and
// mismatchLabelKeys (key not in it) to a selector, as upstream does.
func withLabelKeys(sel labels.Selector, podLabels map[string]string, match, mismatch []string) (labels.Selector, error) {
	for _, keys := range []struct {
		keys []string
		op   selection.Operator
	}{{match, selection.In}, {mismatch, selection.NotIn}} {
		for _, k := range keys.keys {
			v, ok := podLabels[k]
			if !ok {
				continue
			}
			r, err := labels.NewRequirement(k, keys.op, []string{v})
			if err != nil {
				return nil, fmt.Errorf("label key %q: %w", k, err)
			}
			sel = sel.Add(*r)
		}
	}
	return sel, nil
}

func (t *affinityTerm) matches(p *corev1.Pod) bool {
	return (t.allNamespaces || t.namespaces[p.Namespace]) && t.selector.Matches(labels.Set(p.Labels))
}

func matchesAll(terms []affinityTerm, p *corev1.Pod) bool {
	for i := range terms {
		if !terms[i].matches(p) {
			return false
		}
	}
	return true
}

// interPodState is InterPodAffinity's prefilter result: counts of
// matching pods by topology value, and the topology values existing pods'
// anti-affinity forbids to the incoming pod.
type interPodState struct {
	forbidden    map[string]map[string]bool // topology key → values
	affinity     []map[string]int           // per affinity term: value → pods matching all terms
	antiAffinity []map[string]int           // per anti-affinity term: value → matching pods
	anyMatch     bool                       // some existing pod matches all affinity terms
	selfMatch    bool                       // the incoming pod matches all its own affinity terms
}

// InterPodAffinity enforces required pod affinity and anti-affinity, the
// incoming pod's and the existing pods' (symmetry), for any topology key
// (kubernetes.io/hostname, topology.kubernetes.io/zone, ...).
type InterPodAffinity struct{}

func (InterPodAffinity) Name() string { return "InterPodAffinity" }

func (InterPodAffinity) PreFilter(c *Cycle) {
	s, pi := c.Snapshot, c.Pod
	if len(pi.RequiredAffinity) == 0 && len(pi.RequiredAntiAffinity) == 0 && len(s.antiAffinity) == 0 {
		return
	}
	st := &interPodState{forbidden: map[string]map[string]bool{}, selfMatch: matchesAll(pi.RequiredAffinity, pi.Pod)}
	for key, existing := range s.antiAffinity {
		n := s.nodes[s.podNode[key]]
		if n == nil || n.Node == nil || key == pi.Key {
			continue
		}
		for i := range existing.RequiredAntiAffinity {
			t := &existing.RequiredAntiAffinity[i]
			v, ok := n.Node.Labels[t.topologyKey]
			if ok && t.matches(pi.Pod) {
				if st.forbidden[t.topologyKey] == nil {
					st.forbidden[t.topologyKey] = map[string]bool{}
				}
				st.forbidden[t.topologyKey][v] = true
			}
		}
	}
	if len(pi.RequiredAffinity)+len(pi.RequiredAntiAffinity) > 0 {
		st.affinity = newCounts(len(pi.RequiredAffinity))
		st.antiAffinity = newCounts(len(pi.RequiredAntiAffinity))
		for _, n := range s.Nodes() {
			for _, other := range n.pods {
				if other.Key == pi.Key {
					continue
				}
				if len(pi.RequiredAffinity) > 0 && matchesAll(pi.RequiredAffinity, other.Pod) {
					st.anyMatch = true
					for i, t := range pi.RequiredAffinity {
						if v, ok := n.Node.Labels[t.topologyKey]; ok {
							st.affinity[i][v]++
						}
					}
				}
				for i := range pi.RequiredAntiAffinity {
					t := &pi.RequiredAntiAffinity[i]
					if v, ok := n.Node.Labels[t.topologyKey]; ok && t.matches(other.Pod) {
						st.antiAffinity[i][v]++
					}
				}
			}
		}
	}
	c.interPod = st
}

func newCounts(n int) []map[string]int {
	out := make([]map[string]int, n)
	for i := range out {
		out[i] = map[string]int{}
	}
	return out
}

func (InterPodAffinity) Filter(c *Cycle, n *NodeInfo) *Status {
	st := c.interPod
	if st == nil {
		return nil
	}
	nl := n.Node.Labels
	if len(c.Pod.RequiredAffinity) > 0 {
		ok := true
		for i, t := range c.Pod.RequiredAffinity {
			v, has := nl[t.topologyKey]
			if !has || st.affinity[i][v] == 0 {
				ok = false
				break
			}
		}
		// The first pod of a group that selects itself may go anywhere.
		if !ok && !(!st.anyMatch && st.selfMatch) {
			return unresolvable(ReasonAffinityNotMatch)
		}
	}
	for i, t := range c.Pod.RequiredAntiAffinity {
		if v, has := nl[t.topologyKey]; has && st.antiAffinity[i][v] > 0 {
			return unschedulable(ReasonAntiAffinityNotMatch)
		}
	}
	for key, values := range st.forbidden {
		if v, has := nl[key]; has && values[v] {
			return unschedulable(ReasonExistingAntiAffinityNotMatch)
		}
	}
	return nil
}
