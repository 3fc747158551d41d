package eviction

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Eviction under node pressure, as the kubelet's eviction manager
// (pkg/kubelet/eviction: eviction_manager.go's synchronize, helpers.go).
// Every period, pods over a local storage limit go first (storage.go);
// else the first signal past its threshold, in the kubelet's order —
// memory.available, nodefs.available (storage.go), pid.available
// (pids.go) — has one pod evicted, ranked by that signal's rank function,
// reported Failed with reason Evicted and the kubelet's message. Critical
// pods (priority ≥ SystemCriticalPriority) are never evicted; the owner
// (a ReplicaSet, say) replaces the pod elsewhere.

// DefaultPeriod is how often the eviction manager looks.
const DefaultPeriod = 10 * time.Second

// SystemCriticalPriority is the priority from which a pod is critical
// (system-cluster-critical and system-node-critical): never evicted, and
// admitted under pressure, as the kubelet does.
const SystemCriticalPriority = 2000000000

// Config is what a Manager reads from, and asks of, the agent that runs
// it. Measure, Pods, Containers, Now and Log are required.
type Config struct {
	Thresholds Thresholds    // zero values take the defaults
	Period     time.Duration // default DefaultPeriod
	// Measure measures the node's signals now.
	Measure func() Measures
	// Pods are the node's running pods: not terminal, not being deleted,
	// not refused or evicted already.
	Pods func() []Pod
	// Containers are the node's runtime containers.
	Containers func(ctx context.Context) ([]Container, error)
	// Files says where a pod's local storage lies on the node.
	Files Files
	// ReclaimImages removes every image no pod of the node uses (nil:
	// nothing to reclaim).
	ReclaimImages func()
	Now           func() time.Time
	Log           *slog.Logger
}

// Pod is a running pod the manager may evict.
type Pod struct {
	UID    string
	Pod    *corev1.Pod
	Worker Worker
}

// Worker is the agent's worker of one pod, as the manager uses it.
type Worker interface {
	// Evict stops the pod at once and reports it Failed, reason
	// Evicted, with message.
	Evict(message string)
	// Stopped reports whether the evicted pod's containers are stopped.
	Stopped() bool
}

// Container is one runtime container of the node.
type Container struct {
	ID      string // the runtime's id
	PodUID  string // its sandbox
	Name    string // of the pod's spec; "" when its id names none
	Running bool
}

// Files says where a pod's local storage lies on the node.
type Files interface {
	// LogDir holds the logs of a pod's container.
	LogDir(podUID, container string) string
	// VolumeDir holds a pod's volume.
	VolumeDir(podUID, volume string) string
	// WritableLayer is where a runtime container's writes go; "" when
	// unknown (then only logs and volumes are counted).
	WritableLayer(containerID string) string
}

// Manager is the node's eviction manager: it holds the node's pressure
// conditions (SetNodeConditions, Pressure) and evicts pods (Run).
type Manager struct {
	cfg      Config
	pressure pressureTracker
	// evicting are the pods evicted last, until they stopped (only the
	// goroutine of Run uses these two).
	evicting  []evictedPod
	evictedAt time.Time
}

// New returns a manager; cfg's zero values take the defaults.
func New(cfg Config) *Manager {
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	cfg.Thresholds = cfg.Thresholds.WithDefaults()
	return &Manager{cfg: cfg}
}

// Pressure is the pressure the node last reported.
func (m *Manager) Pressure() Pressure { return m.pressure.current() }

// SetNodeConditions replaces st's pressure conditions by those measured
// now (the other conditions keep their place); prev, the node's status as
// last written (nil for none), keeps a condition's times while its status
// does not change.
func (m *Manager) SetNodeConditions(st *corev1.NodeStatus, prev *corev1.NodeStatus) {
	th := m.cfg.Thresholds
	now := m.cfg.Now()
	p := m.pressure.observe(Evaluate(m.cfg.Measure(), th), now, th.TransitionPeriod)
	var prevConds []corev1.NodeCondition
	if prev != nil {
		prevConds = prev.Conditions
	}
	byType := map[corev1.NodeConditionType]corev1.NodeCondition{}
	for _, c := range pressureConditions(p, prevConds, now) {
		byType[c.Type] = c
	}
	for i, c := range st.Conditions {
		if n, ok := byType[c.Type]; ok {
			st.Conditions[i] = n
			delete(byType, c.Type)
		}
	}
	for _, t := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		if c, ok := byType[t]; ok {
			st.Conditions = append(st.Conditions, c)
		}
	}
}

// Run looks for pods to evict every period until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.once(ctx)
		}
	}
}

// once is one period of the eviction manager, in the kubelet's order:
// pods over their local storage limits (storage.go), else one pod for the
// first signal under pressure — memory, then disk (node-level space
// first), then pids. After an eviction it waits until the pods are
// stopped (at most podCleanupTimeout) and one more period has passed, so
// that what they free is measured before another pod goes, as the kubelet
// waits for pod cleanup.
func (m *Manager) once(ctx context.Context) {
	if len(m.evicting) > 0 {
		done := true
		for _, p := range m.evicting {
			done = done && p.Worker.Stopped()
		}
		if !done && m.cfg.Now().Sub(m.evictedAt) < podCleanupTimeout {
			return
		}
		for _, p := range m.evicting {
			if p.Worker.Stopped() {
				m.freeEvictedVolumes(ctx, p)
			}
		}
		m.evicting = nil
		return // measure again next period
	}
	if over := m.evictOverLimits(ctx); len(over) > 0 {
		m.evicting, m.evictedAt = over, m.cfg.Now()
		return
	}
	th := m.cfg.Thresholds
	ms := m.cfg.Measure()
	var victim *evictedPod
	switch p := Evaluate(ms, th); {
	case p.Memory:
		victim = m.evictForMemory(ctx, ms, th)
	case p.Disk:
		victim = m.evictForDisk(ctx, th)
	case p.PID:
		victim = m.evictForPIDs(ms, th)
	}
	if victim != nil {
		m.evicting, m.evictedAt = []evictedPod{*victim}, m.cfg.Now()
	}
}

// evictedPod is a Pod the manager evicts, until it has stopped; the name
// its candidates embed it by (their Pod field is then the pod's spec).
type evictedPod = Pod

// evictable are the node's running pods that may be evicted (critical
// pods never are).
func (m *Manager) evictable() []evictedPod {
	var out []evictedPod
	for _, p := range m.cfg.Pods() {
		if priorityOf(p.Pod) < SystemCriticalPriority {
			out = append(out, p)
		}
	}
	return out
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
func (m *Manager) evictForMemory(ctx context.Context, ms Measures, th Thresholds) *evictedPod {
	pods := m.evictable()
	if len(pods) == 0 {
		m.cfg.Log.Warn("memory pressure but no pod to evict", "available", ms.MemAvailable)
		return nil
	}
	ctrs, _ := m.cfg.Containers(ctx) // without it, containers' usage is unknown
	cands := make([]memoryCandidate, 0, len(pods))
	for _, p := range pods {
		cands = append(cands, memoryCandidate{evictedPod: p, memory: podMemory(p.UID, ctrs)})
	}
	rankMemory(cands)
	v := cands[0]
	var podUsage *int64
	if v.memory.known {
		podUsage = &v.memory.pod
	}
	msg := evictionMessage(corev1.ResourceMemory, &th.MemoryAvailable, resource.NewQuantity(ms.MemAvailable, resource.BinarySI),
		v.Pod, podUsage, v.memory.containers)
	m.cfg.Log.Info("evicting a pod: memory pressure", "pod", v.Pod.Namespace+"/"+v.Pod.Name, "usage", v.memory.pod, "available", ms.MemAvailable)
	v.Worker.Evict(msg)
	return &v.evictedPod
}

// rankMemory orders candidates as the kubelet's rankMemoryPressure:
// orderedBy(exceedMemoryRequests, priority, memory) — pods whose working
// set exceeds their memory request first, then lower priority, then
// larger usage above the request; a pod without stats comes first
// wherever usage is compared. No QoS class. Ties (the kubelet's sort is
// not stable) go by namespace and name.
func rankMemory(cands []memoryCandidate) {
	over := func(c memoryCandidate) int64 { return c.memory.pod - memoryRequest(c.Pod) }
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.memory.known != b.memory.known {
			return !a.memory.known
		}
		if ea, eb := a.memory.known && over(a) > 0, b.memory.known && over(b) > 0; ea != eb {
			return ea
		}
		if pa, pb := priorityOf(a.Pod), priorityOf(b.Pod); pa != pb {
			return pa < pb
		}
		if oa, ob := over(a), over(b); a.memory.known && oa != ob {
			return oa > ob
		}
		return a.Pod.Namespace+"/"+a.Pod.Name < b.Pod.Namespace+"/"+b.Pod.Name
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
func podMemory(uid string, ctrs []Container) memoryStats {
	var s memoryStats
	s.pod, s.known = WorkingSet(filepath.Join("wake", uid))
	if !s.known {
		return s
	}
	s.containers = map[string]int64{}
	for _, c := range ctrs {
		if c.PodUID == uid && c.Name != "" && c.Running {
			if ws, ok := WorkingSet(filepath.Join("wake", uid, c.ID)); ok {
				s.containers[c.Name] = ws
			}
		}
	}
	return s
}

// WorkingSet is the memory working set of the cgroup at rel, as cadvisor
// computes it for the kubelet: usage less inactive file pages (cgroup
// v1's memory controller, else the unified hierarchy). The agent's
// resource metrics read it too.
func WorkingSet(rel string) (int64, bool) {
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
