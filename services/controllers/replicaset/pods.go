package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IsPodActive reports whether a pod counts towards a controller's replicas:
// not finished and not being deleted.
func IsPodActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

// isPodTerminating reports whether a pod is being deleted but still runs.
func isPodTerminating(p *corev1.Pod) bool {
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// readyCondition returns the pod's Ready condition, or nil.
func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(p *corev1.Pod) bool {
	c := readyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsPodAvailable reports whether the pod has been ready for at least
// minReadySeconds at now, as upstream's podutil.IsPodAvailable.
func IsPodAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if !IsPodReady(p) {
		return false
	}
	c := readyCondition(p)
	d := time.Duration(minReadySeconds) * time.Second
	return minReadySeconds == 0 || (!c.LastTransitionTime.IsZero() && c.LastTransitionTime.Add(d).Before(now))
}

// podPhaseOrdinal ranks phases for deletion: pending pods go first.
var podPhaseOrdinal = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// rankedPods sorts pods in the order upstream deletes them (its
// ActivePodsWithRanks with PodDeletionCost and LogarithmicScaleDown on):
// the first pods are the cheapest to lose.
type rankedPods struct {
	pods []*corev1.Pod
	rank []int // how many active related pods share the pod's node
	now  time.Time
}

func (s rankedPods) Len() int { return len(s.pods) }
func (s rankedPods) Swap(i, j int) {
	s.pods[i], s.pods[j] = s.pods[j], s.pods[i]
	s.rank[i], s.rank[j] = s.rank[j], s.rank[i]
}

func (s rankedPods) Less(i, j int) bool {
	a, b := s.pods[i], s.pods[j]
	// 1. Unassigned before assigned.
	if a.Spec.NodeName != b.Spec.NodeName && (a.Spec.NodeName == "" || b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	// 2. Pending before Unknown before Running.
	if pa, pb := podPhaseOrdinal[a.Status.Phase], podPhaseOrdinal[b.Status.Phase]; pa != pb {
		return pa < pb
	}
	// 3. Not ready before ready.
	if ra, rb := IsPodReady(a), IsPodReady(b); ra != rb {
		return !ra
	}
	// 4. Lower pod-deletion-cost first.
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	// 5. Doubled up on a node before alone.
	if s.rank[i] != s.rank[j] {
		return s.rank[i] > s.rank[j]
	}
	// 6. Ready for a shorter time first (logarithmic buckets).
	if IsPodReady(a) && IsPodReady(b) {
		ta, tb := readyCondition(a).LastTransitionTime, readyCondition(b).LastTransitionTime
		if !ta.Equal(&tb) {
			return s.newerFirst(a, b, ta, tb)
		}
	}
	// 7. More container restarts first.
	if ra, rb := maxRestarts(a), maxRestarts(b); ra != rb {
		return ra > rb
	}
	// 8. Newer before older (logarithmic buckets).
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return s.newerFirst(a, b, a.CreationTimestamp, b.CreationTimestamp)
	}
	return false
}

// newerFirst compares two times as upstream's LogarithmicScaleDown does:
// times in the same power-of-two age bucket tie, broken by uid.
func (s rankedPods) newerFirst(a, b *corev1.Pod, ta, tb metav1.Time) bool {
	if s.now.IsZero() || ta.IsZero() || tb.IsZero() {
		return afterOrZero(ta, tb)
	}
	if d := logRank(ta, s.now) - logRank(tb, s.now); d != 0 {
		return d < 0
	}
	return a.UID < b.UID
}

func logRank(t metav1.Time, now time.Time) int64 {
	if d := now.Sub(t.Time); d > 0 {
		return int64(math.Log2(float64(d)))
	}
	return -1
}

func afterOrZero(a, b metav1.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero()
	}
	return a.After(b.Time)
}

func deletionCost(p *corev1.Pod) int32 {
	v, ok := p.Annotations[corev1.PodDeletionCost]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}

// maxRestarts is the highest restart count of the pod's containers; sidecar
// restarts only break ties, folded in below the regular count.
func maxRestarts(p *corev1.Pod) int64 {
	regular, sidecar := int32(0), int32(0)
	for _, c := range p.Status.ContainerStatuses {
		regular = max(regular, c.RestartCount)
	}
	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
		}
	}
	for _, c := range p.Status.InitContainerStatuses {
		if sidecars[c.Name] {
			sidecar = max(sidecar, c.RestartCount)
		}
	}
	return int64(regular)<<32 | int64(sidecar)
}

// podsToDelete picks diff pods to delete, the cheapest first. related are
// the pods of the ReplicaSet's siblings (same owner), used to prefer pods
// doubled up on a node. pods must come sorted by name, so ties fall
// deterministically.
func podsToDelete(pods, related []*corev1.Pod, diff int, now time.Time) []*corev1.Pod {
	if diff >= len(pods) {
		return pods
	}
	onNode := map[string]int{}
	for _, p := range related {
		if IsPodActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	s := rankedPods{pods: append([]*corev1.Pod(nil), pods...), rank: make([]int, len(pods)), now: now}
	for i, p := range s.pods {
		s.rank[i] = onNode[p.Spec.NodeName]
	}
	sort.Stable(s)
	return s.pods[:diff]
}
