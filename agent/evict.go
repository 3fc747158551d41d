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
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/wakehq/wake/agent/runtime"
)

// Eviction under node pressure, as the kubelet's eviction manager
// (pkg/kubelet/eviction: eviction_manager.go's synchronize, helpers.go).
// Every period, pods over a local storage limit go first
// (evict_storage.go); else the first signal past its threshold, in the
// kubelet's order — memory.available, nodefs.available
// (evict_storage.go), pid.available (evict_pids.go) — has one pod
// evicted, ranked by that signal's rank function, reported Failed with
// reason Evicted and the kubelet's message. Critical pods (priority ≥
// 2,000,000,000) are never evicted; the owner (a ReplicaSet, say)
// replaces the pod elsewhere.

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
// order: pods over their local storage limits (evict_storage.go), else
// one pod for the first signal under pressure — memory, then disk
// (node-level space first), then pids. After an eviction it waits until
// the pods are stopped (at most podCleanupTimeout) and one more period
// has passed, so that what they free is measured before another pod goes,
// as the kubelet waits for pod cleanup.
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
	th := a.cfg.Pressure.withDefaults()
	m := a.measure()
	var victim *evictedPod
	switch p := evaluatePressure(m, th); {
	case p.Memory:
		victim = a.evictForMemory(ctx, m, th)
	case p.Disk:
		victim = a.evictForDisk(ctx, th)
	case p.PID:
		victim = a.evictForPIDs(m, th)
	}
	if victim != nil {
		a.evicting, a.evictedAt = []evictedPod{*victim}, a.now()
	}
}

// podCleanupTimeout bounds the wait for an evicted pod's containers to
// stop before the next eviction (the kubelet's is 30s).
const podCleanupTimeout = 30 * time.Second

// evictionMessage is the kubelet's message for a pod evicted under
// pressure on res (helpers.go, evictionMessage): the threshold and what
// was available; then, when the pod's usage is known, the pod's own
// memory when it has a pod-level memory request, and every container
// (init containers too) using more than it requests. podUsage nil:
// unknown; containers nil: none to tell (the kubelet tells none for pids).
func evictionMessage(res corev1.ResourceName, threshold, available *resource.Quantity, pod *corev1.Pod, podUsage *int64, containers map[string]int64) string {
	msg := fmt.Sprintf("The node was low on resource: %s. Threshold quantity: %s, available: %s. ", res, threshold, available)
	if res == corev1.ResourceMemory && podUsage != nil && resourcehelper.IsPodLevelResourcesSet(pod) {
		if req, ok := pod.Spec.Resources.Requests[res]; ok {
			msg += fmt.Sprintf("Pod %s was using %s, request is %s, has larger consumption of %s. ",
				pod.Name, resource.NewQuantity(*podUsage, resource.BinarySI), &req, res)
		}
	}
	for _, c := range append(append([]corev1.Container(nil), pod.Spec.Containers...), pod.Spec.InitContainers...) {
		used, ok := containers[c.Name]
		req := c.Resources.Requests[res]
		if ok && used > req.Value() {
			msg += fmt.Sprintf("Container %s was using %s, request is %s, has larger consumption of %s. ",
				c.Name, resource.NewQuantity(used, resource.BinarySI), &req, res)
		}
	}
	return msg
}

// thresholdQuantity is a percentage threshold as the kubelet computes it
// (parsePercentage, GetThresholdQuantity): the percentage as a float32
// fraction, times the capacity, truncated; binary SI.
func thresholdQuantity(percent float64, capacity int64) *resource.Quantity {
	frac := float32(percent) / 100
	return resource.NewQuantity(int64(float64(capacity)*float64(frac)), resource.BinarySI)
}

// memoryStats is a pod's memory as the kubelet's stats have it: working
// sets of the pod cgroup and of each running container.
type memoryStats struct {
	known      bool  // the pod's cgroup was read
	pod        int64 // bytes
	containers map[string]int64
}

// memoryCandidate is a running pod with its memory.
type memoryCandidate struct {
	evictedPod
	memory memoryStats
}

// evictForMemory evicts the pod rankMemory puts first.
func (a *Agent) evictForMemory(ctx context.Context, m Measures, th PressureThresholds) *evictedPod {
	pods := a.evictable()
	if len(pods) == 0 {
		a.log.Warn("memory pressure but no pod to evict", "available", m.MemAvailable)
		return nil
	}
	ctrs, _ := a.rt.List(ctx) // without it, containers' usage is unknown
	cands := make([]memoryCandidate, 0, len(pods))
	for _, p := range pods {
		cands = append(cands, memoryCandidate{evictedPod: p, memory: podMemory(p.uid, ctrs)})
	}
	rankMemory(cands)
	v := cands[0]
	var podUsage *int64
	if v.memory.known {
		podUsage = &v.memory.pod
	}
	msg := evictionMessage(corev1.ResourceMemory, &th.MemoryAvailable, resource.NewQuantity(m.MemAvailable, resource.BinarySI),
		v.pod, podUsage, v.memory.containers)
	a.log.Info("evicting a pod: memory pressure", "pod", v.pod.Namespace+"/"+v.pod.Name, "usage", v.memory.pod, "available", m.MemAvailable)
	v.w.evict(&rejection{Reason: "Evicted", Message: msg})
	return &v.evictedPod
}

// rankMemory orders candidates as the kubelet's rankMemoryPressure:
// orderedBy(exceedMemoryRequests, priority, memory) — pods whose working
// set exceeds their memory request first, then lower priority, then
// larger usage above the request; a pod without stats comes first
// wherever usage is compared. No QoS class. Ties (the kubelet's sort is
// not stable) go by namespace and name.
func rankMemory(cands []memoryCandidate) {
	over := func(c memoryCandidate) int64 { return c.memory.pod - memoryRequest(c.pod) }
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.memory.known != b.memory.known {
			return !a.memory.known
		}
		if ea, eb := a.memory.known && over(a) > 0, b.memory.known && over(b) > 0; ea != eb {
			return ea
		}
		if pa, pb := priorityOf(a.pod), priorityOf(b.pod); pa != pb {
			return pa < pb
		}
		if oa, ob := over(a), over(b); a.memory.known && oa != ob {
			return oa > ob
		}
		return a.pod.Namespace+"/"+a.pod.Name < b.pod.Namespace+"/"+b.pod.Name
	})
}

// memoryRequest is the pod's memory request in bytes as the kubelet's
// GetResourceRequestQuantity: a pod-level request if set, else its
// containers' (init containers as the max, sidecars), plus overhead.
func memoryRequest(pod *corev1.Pod) int64 {
	q := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})[corev1.ResourceMemory]
	return q.Value()
}

func priorityOf(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// podMemory reads the working sets of pod uid's cgroup and of its running
// containers' cgroups (runtime/libct: /wake/<uid>/<container id>).
func podMemory(uid string, ctrs []runtime.State) memoryStats {
	var s memoryStats
	s.pod, s.known = workingSet(filepath.Join("wake", uid))
	if !s.known {
		return s
	}
	s.containers = map[string]int64{}
	for _, st := range ctrs {
		if name, _, ok := parseContainerID(st.ID); ok && st.SandboxID == uid && st.Status == runtime.Running {
			if ws, ok := workingSet(filepath.Join("wake", uid, st.ID)); ok {
				s.containers[name] = ws
			}
		}
	}
	return s
}

// workingSet is the memory working set of the cgroup at rel, as cadvisor
// computes it for the kubelet: usage less inactive file pages (cgroup
// v1's memory controller, else the unified hierarchy).
func workingSet(rel string) (int64, bool) {
	for _, h := range []struct{ root, usage, inactive string }{
		{"/sys/fs/cgroup/memory", "memory.usage_in_bytes", "total_inactive_file"},
		{"/sys/fs/cgroup", "memory.current", "inactive_file"},
		{"/sys/fs/cgroup/unified", "memory.current", "inactive_file"},
	} {
		dir := filepath.Join(h.root, rel)
		usage, err := strconv.ParseInt(readTrim(filepath.Join(dir, h.usage)), 10, 64)
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(dir, "memory.stat"))
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, h.inactive+" "); ok {
				if in, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					usage = max(usage-in, 0)
				}
			}
		}
		return usage, true
	}
	return 0, false
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
