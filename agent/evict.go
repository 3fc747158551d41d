package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wakehq/wake/gateway/admission"
)

// Memory eviction, as the kubelet's eviction manager does for its hard
// memory.available signal (local storage: evict_storage.go): while the node's available memory is under the
// MemoryPressure threshold, it stops one pod per period — BestEffort pods
// first, then Burstable, then Guaranteed; within a class the one using the
// most memory over its request — and reports it Failed with reason
// Evicted. Critical pods (priority ≥ 2,000,000,000) are never evicted.
// The owner (a ReplicaSet, say) replaces the pod elsewhere.

// DefaultEvictionPeriod is how often the eviction manager looks.
const DefaultEvictionPeriod = 10 * time.Second

// evictions looks for pods to evict every period until ctx ends.
func (a *Agent) evictions(ctx context.Context) error {
	period := a.cfg.EvictionPeriod
	if period <= 0 {
		period = DefaultEvictionPeriod
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			a.evictOnce(ctx)
		}
	}
}

// evictOnce is one period of the eviction manager, in the kubelet's
// order: pods over their local storage limits (evict_storage.go), else,
// under memory pressure, one pod, else, under disk pressure, node-level
// space then one pod. After an eviction it waits until the pods are
// stopped (at most podCleanupTimeout) and one more period has passed, so
// that what they free is measured before another pod goes, as the kubelet
// waits for pod cleanup.
func (a *Agent) evictOnce(ctx context.Context) {
	if len(a.evicting) > 0 {
		done := true
		for _, p := range a.evicting {
			done = done && p.w.evictionDone()
		}
		if !done && a.now().Sub(a.evictedAt) < podCleanupTimeout {
			return
		}
		for _, p := range a.evicting {
			if p.w.evictionDone() {
				a.freeEvictedVolumes(ctx, p)
			}
		}
		a.evicting = nil
		return // measure again next period
	}
	if over := a.evictOverLimits(ctx); len(over) > 0 {
		a.evicting, a.evictedAt = over, a.now()
		return
	}
	measure := a.cfg.Measure
	if measure == nil {
		measure = Measure
	}
	th := a.cfg.Pressure.withDefaults()
	m := measure(a.cfg.StateDir)
	var victim *evictedPod
	switch p := evaluatePressure(m, th); {
	case p.Memory:
		victim = a.evictForMemory(m, th)
	case p.Disk:
		victim = a.evictForDisk(ctx, measure, th)
	}
	if victim != nil {
		a.evicting, a.evictedAt = []evictedPod{*victim}, a.now()
	}
}

// evictForMemory evicts the pod pickVictim chooses.
func (a *Agent) evictForMemory(m Measures, th PressureThresholds) *evictedPod {
	usage := a.cfg.PodMemory
	if usage == nil {
		usage = podMemoryUsage
	}
	a.mu.Lock()
	var cands []evictionCandidate
	for uid, w := range a.workers {
		pod := w.candidate()
		if pod == nil {
			continue
		}
		cands = append(cands, evictionCandidate{w: w, pod: pod, usage: usage(uid)})
	}
	a.mu.Unlock()
	victim := pickVictim(cands)
	if victim == nil {
		a.log.Warn("memory pressure but no pod to evict", "available", m.MemAvailable)
		return nil
	}
	msg := fmt.Sprintf("The node was low on resource: memory. Threshold quantity: %s, available: %dKi. ",
		th.MemoryAvailable.String(), m.MemAvailable/1024)
	if req := podRequest(victim.pod, corev1.ResourceMemory); victim.usage > 0 {
		msg += fmt.Sprintf("Pod was using %dKi, request is %dKi. ", victim.usage/1024, req/1024)
	}
	a.log.Info("evicting a pod: memory pressure", "pod", victim.pod.Namespace+"/"+victim.pod.Name, "usage", victim.usage, "available", m.MemAvailable)
	victim.w.evict(&rejection{Reason: "Evicted", Message: msg})
	return &evictedPod{w: victim.w, uid: victim.w.uid, pod: victim.pod}
}

// podCleanupTimeout bounds the wait for an evicted pod's containers to
// stop before the next eviction (the kubelet's is 30s).
const podCleanupTimeout = 30 * time.Second

// evictionCandidate is a running pod of the node with its memory usage.
type evictionCandidate struct {
	w     *podWorker
	pod   *corev1.Pod
	usage int64 // bytes, 0 when unknown
}

// pickVictim ranks as the kubelet does for memory: pods whose usage
// exceeds their request first, then by priority (lower first), then by
// usage above the request (larger first); BestEffort pods request
// nothing, so they come first. Critical pods are never chosen.
func pickVictim(cands []evictionCandidate) *evictionCandidate {
	var ok []evictionCandidate
	for _, c := range cands {
		if priorityOf(c.pod) < 2_000_000_000 {
			ok = append(ok, c)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	over := func(c evictionCandidate) int64 { return c.usage - podRequest(c.pod, corev1.ResourceMemory) }
	sort.SliceStable(ok, func(i, j int) bool {
		a, b := ok[i], ok[j]
		if ea, eb := over(a) > 0, over(b) > 0; ea != eb {
			return ea
		}
		if qa, qb := qosRank(a.pod), qosRank(b.pod); qa != qb {
			return qa < qb
		}
		if pa, pb := priorityOf(a.pod), priorityOf(b.pod); pa != pb {
			return pa < pb
		}
		if oa, ob := over(a), over(b); oa != ob {
			return oa > ob
		}
		return a.pod.Name < b.pod.Name
	})
	return &ok[0]
}

func qosRank(pod *corev1.Pod) int {
	switch admission.QOSClass(&pod.Spec) {
	case corev1.PodQOSBestEffort:
		return 0
	case corev1.PodQOSBurstable:
		return 1
	}
	return 2
}

func priorityOf(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// podRequest is the pod's request of one resource, in its base unit.
func podRequest(pod *corev1.Pod, name corev1.ResourceName) int64 {
	var sum resource.Quantity
	for _, c := range pod.Spec.Containers {
		if q, ok := c.Resources.Requests[name]; ok {
			sum.Add(q)
		}
	}
	return sum.Value()
}

// podMemoryUsage reads the pod cgroup's memory usage (cgroup v1's memory
// controller, else the unified hierarchy); 0 when unknown.
func podMemoryUsage(uid string) int64 {
	for _, p := range []string{
		filepath.Join("/sys/fs/cgroup/memory/wake", uid, "memory.usage_in_bytes"),
		filepath.Join("/sys/fs/cgroup/wake", uid, "memory.current"),
		filepath.Join("/sys/fs/cgroup/unified/wake", uid, "memory.current"),
	} {
		if b, err := os.ReadFile(p); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
				return n
			}
		}
	}
	return 0
}

// candidate is the worker's pod when it runs and may be evicted: not
// terminal, not deleting, not refused or evicted already.
func (w *podWorker) candidate() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	pod := w.current
	if pod == nil || w.rejected != nil || w.evicted != nil || pod.DeletionTimestamp != nil || terminal(pod) {
		return nil
	}
	return pod
}

// evictionDone reports whether the worker has stopped its evicted pod.
func (w *podWorker) evictionDone() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rejected != nil
}

// evict asks the worker to stop the pod and report it Evicted.
func (w *podWorker) evict(r *rejection) {
	w.mu.Lock()
	w.evicted = r
	w.mu.Unlock()
	w.wake()
}
