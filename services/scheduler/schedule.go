package scheduler

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Failure is why one node was filtered out: the first plugin that
// rejected it and its reasons.
type Failure struct {
	Node         string   `json:"node"`
	Plugin       string   `json:"plugin"`
	Reasons      []string `json:"reasons"`
	Unresolvable bool     `json:"-"`
}

// NodeScore is one feasible node's weighted total and each plugin's
// normalized score.
type NodeScore struct {
	Node    string           `json:"node"`
	Total   int64            `json:"total"`
	Plugins map[string]int64 `json:"plugins,omitempty"`
}

// Decision is what Schedule decided for one pod.
type Decision struct {
	Pod       string // namespace/name
	Priority  int32
	Node      string // the chosen node; "" when the pod does not fit
	Nodes     int    // nodes in the snapshot
	Evaluated int    // nodes filtered (upstream stops after enough feasible ones)
	Feasible  int
	Failures  []Failure   // the nodes filtered out, in evaluation order
	Scores    []NodeScore // the best feasible nodes, best first (at most TopScores)
	// Message is the unschedulable message in Kubernetes' form, when Node
	// is "".
	Message string
	// NominatedNode and Victims: preemption chose this node and these pods
	// (namespace/name) to delete so that the pod fits there later.
	NominatedNode string
	Victims       []string
}

// TopScores is how many scored nodes a Decision keeps.
const TopScores = 3

// ErrNoNodes is upstream's message when the cluster has no nodes.
const ErrNoNodes = "no nodes available to schedule pods"

// Schedule decides where pod goes, from the snapshot alone: filter every
// node (or, on large clusters, enough of them, as upstream's
// percentageOfNodesToScore), score the feasible ones, take the best; ties
// are broken, and the scan starts, from a random source seeded with seed
// (the service uses pod uid + view sequence), so the same snapshot and
// seed always give the same decision. When nothing fits it tries
// preemption. It never changes the snapshot.
func Schedule(s *Snapshot, pod *corev1.Pod, seed string) Decision {
	d := Decision{Pod: PodKey(pod)}
	prio, err := s.Priority(pod)
	if err != nil {
		d.Message = err.Error()
		return d
	}
	d.Priority = prio
	pi, err := NewPodInfo(pod, prio)
	if err != nil {
		d.Message = err.Error()
		return d
	}
	nodes := s.Nodes()
	d.Nodes = len(nodes)
	if len(nodes) == 0 {
		d.Message = ErrNoNodes
		return d
	}
	rng := newRand(seed)
	c := newCycle(s, pi)
	want := numFeasibleNodesToFind(len(nodes))
	start := rng.IntN(len(nodes))
	feasible := make([]*NodeInfo, 0, min(want, len(nodes)))
	for i := 0; i < len(nodes) && len(feasible) < want; i++ {
		n := nodes[(start+i)%len(nodes)]
		d.Evaluated++
		if plugin, st := c.filter(n); st != nil {
			d.Failures = append(d.Failures, Failure{Node: n.Name, Plugin: plugin, Reasons: st.Reasons, Unresolvable: st.Unresolvable})
			continue
		}
		feasible = append(feasible, n)
	}
	d.Feasible = len(feasible)
	if len(feasible) == 0 {
		d.Message = fitMessage(len(nodes), d.Failures)
		p, msg := c.preempt(d.Failures)
		if p == nil {
			d.Message += " preemption: " + msg
			return d
		}
		d.NominatedNode = p.node
		for _, v := range p.victims {
			d.Victims = append(d.Victims, v.Key)
		}
		return d
	}
	best, scores := c.score(feasible, rng)
	d.Node = feasible[best].Name
	d.Scores = scores
	return d
}

// score ranks the feasible nodes and picks the best, breaking ties at
// random (reservoir sampling, as upstream's selectHost).
func (c *Cycle) score(feasible []*NodeInfo, rng *rand.Rand) (int, []NodeScore) {
	if len(feasible) == 1 {
		return 0, []NodeScore{{Node: feasible[0].Name}}
	}
	total := make([]int64, len(feasible))
	perPlugin := make([][]int64, len(scorers))
	for j, sp := range scorers {
		scores := make([]int64, len(feasible))
		for i, n := range feasible {
			scores[i] = sp.Score(c, n)
		}
		sp.Normalize(c, scores)
		for i := range scores {
			total[i] += scores[i] * sp.Weight()
		}
		perPlugin[j] = scores
	}
	best, ties := 0, 1
	for i := 1; i < len(total); i++ {
		switch {
		case total[i] > total[best]:
			best, ties = i, 1
		case total[i] == total[best]:
			ties++
			if rng.IntN(ties) == 0 {
				best = i
			}
		}
	}
	order := make([]int, len(feasible))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := order[a], order[b]
		if (x == best) != (y == best) {
			return x == best
		}
		if total[x] != total[y] {
			return total[x] > total[y]
		}
		return feasible[x].Name < feasible[y].Name
	})
	top := make([]NodeScore, 0, TopScores)
	for _, i := range order[:min(TopScores, len(order))] {
		ns := NodeScore{Node: feasible[i].Name, Total: total[i], Plugins: map[string]int64{}}
		for j, sp := range scorers {
			ns.Plugins[sp.Name()] = perPlugin[j][i]
		}
		top = append(top, ns)
	}
	return best, top
}

// numFeasibleNodesToFind is upstream's adaptive percentageOfNodesToScore:
// every node below 100, then 50% minus 1% per 125 nodes, at least 5% and
// at least 100 nodes.
func numFeasibleNodesToFind(n int) int {
	const minFeasible = 100
	if n < minFeasible {
		return n
	}
	pct := max(50-n/125, 5)
	return max(n*pct/100, minFeasible)
}

func newRand(seed string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(seed))
	a := h.Sum64()
	h.Write([]byte{0})
	return rand.New(rand.NewPCG(a, h.Sum64()))
}

// fitMessage is upstream's FitError message: "0/N nodes are available:"
// then each reason with the number of nodes it applies to, sorted as
// strings, ending with a period.
func fitMessage(total int, failures []Failure) string {
	counts := map[string]int{}
	for _, f := range failures {
		for _, r := range f.Reasons {
			counts[r]++
		}
	}
	parts := make([]string, 0, len(counts))
	for r, n := range counts {
		parts = append(parts, fmt.Sprintf("%d %s", n, r))
	}
	slices.Sort(parts)
	msg := fmt.Sprintf("0/%d nodes are available:", total)
	if len(parts) > 0 {
		msg += " " + strings.Join(parts, ", ") + "."
	}
	return msg
}
