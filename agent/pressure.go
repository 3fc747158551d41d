package agent

import (
	"bufio"
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/services/reconcile"
)

// PressureThresholds are the kubelet's hard eviction signals that turn the
// node's pressure conditions True. Zero values take the defaults.
type PressureThresholds struct {
	// MemoryAvailable: MemoryPressure below this much MemAvailable
	// (/proc/meminfo); default 100Mi, the kubelet's memory.available.
	MemoryAvailable resource.Quantity
	// DiskAvailablePercent: DiskPressure below this share of the state
	// directory's file system available; default 10, nodefs.available.
	DiskAvailablePercent float64
	// PIDAvailablePercent: PIDPressure below this share of the pid limit
	// (min of kernel.pid_max and kernel.threads-max) free; default 10.
	PIDAvailablePercent float64
	// TransitionPeriod is how long a condition stays True after its
	// signal went back under the threshold, so that it does not flap;
	// default 30s (the kubelet's evictionPressureTransitionPeriod is 5m).
	TransitionPeriod time.Duration
}

func (t PressureThresholds) withDefaults() PressureThresholds {
	if t.MemoryAvailable.IsZero() {
		t.MemoryAvailable = resource.MustParse("100Mi")
	}
	if t.DiskAvailablePercent <= 0 {
		t.DiskAvailablePercent = 10
	}
	if t.PIDAvailablePercent <= 0 {
		t.PIDAvailablePercent = 10
	}
	if t.TransitionPeriod <= 0 {
		t.TransitionPeriod = 30 * time.Second
	}
	return t
}

// Measures are the node's resource signals at one moment; zero totals
// mean "unknown" and never cause pressure.
type Measures struct {
	MemAvailable            int64 // bytes, /proc/meminfo MemAvailable
	DiskAvailable, DiskSize int64 // bytes of the state directory's file system
	PIDs, PIDLimit          int64 // tasks running, the most the kernel allows
}

// Measure reads the signals: /proc/meminfo, statfs(stateDir), sysinfo and
// /proc/sys/kernel/{pid_max,threads-max}.
func Measure(stateDir string) Measures {
	var m Measures
	m.MemAvailable = meminfo("MemAvailable:")
	var st unix.Statfs_t
	if unix.Statfs(stateDir, &st) == nil {
		m.DiskAvailable, m.DiskSize = int64(st.Bavail)*st.Bsize, int64(st.Blocks)*st.Bsize
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		m.PIDs = int64(si.Procs)
	}
	for _, p := range []string{"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"} {
		if n, err := strconv.ParseInt(readTrim(p), 10, 64); err == nil && n > 0 && (m.PIDLimit == 0 || n < m.PIDLimit) {
			m.PIDLimit = n
		}
	}
	return m
}

// meminfo is one /proc/meminfo field in bytes (-1 when absent).
func meminfo(field string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb * 1024
		}
	}
	return -1
}

// Pressure is which signals are past their threshold.
type Pressure struct{ Memory, Disk, PID bool }

// evaluatePressure compares measures with thresholds (defaults applied),
// percentages as the kubelet computes them (thresholdQuantity).
func evaluatePressure(m Measures, t PressureThresholds) Pressure {
	t = t.withDefaults()
	return Pressure{
		Memory: m.MemAvailable >= 0 && m.MemAvailable < t.MemoryAvailable.Value(),
		Disk:   m.DiskSize > 0 && m.DiskAvailable < thresholdQuantity(t.DiskAvailablePercent, m.DiskSize).Value(),
		PID:    m.PIDLimit > 0 && m.PIDLimit-m.PIDs < thresholdQuantity(t.PIDAvailablePercent, m.PIDLimit).Value(),
	}
}

// pressureTracker holds a condition True for the transition period after
// its signal last crossed the threshold, as the kubelet does.
type pressureTracker struct {
	mu       sync.Mutex
	lastSeen [3]time.Time // memory, disk, pid: when last observed under pressure
	last     Pressure     // as last reported (admission refuses pods under it)
}

// current is the pressure the node last reported.
func (tr *pressureTracker) current() Pressure {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.last
}

// observe records p at now and returns the pressure to report.
func (tr *pressureTracker) observe(p Pressure, now time.Time, period time.Duration) Pressure {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	obs := [3]bool{p.Memory, p.Disk, p.PID}
	var out [3]bool
	for i, on := range obs {
		if on {
			tr.lastSeen[i] = now
		}
		out[i] = !tr.lastSeen[i].IsZero() && now.Sub(tr.lastSeen[i]) < period
	}
	tr.last = Pressure{Memory: out[0], Disk: out[1], PID: out[2]}
	return tr.last
}

// pressureConditions are the node's three pressure conditions with the
// kubelet's reasons and messages; transition and heartbeat times are kept
// from prev while a condition's status does not change.
func pressureConditions(p Pressure, prev []corev1.NodeCondition, now time.Time) []corev1.NodeCondition {
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	type kind struct {
		t                 corev1.NodeConditionType
		on                bool
		okReason, okMsg   string
		badReason, badMsg string
	}
	var out []corev1.NodeCondition
	for _, k := range []kind{
		{corev1.NodeMemoryPressure, p.Memory, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"},
		{corev1.NodeDiskPressure, p.Disk, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "KubeletHasDiskPressure", "kubelet has disk pressure"},
		{corev1.NodePIDPressure, p.PID, "KubeletHasSufficientPID", "kubelet has sufficient PID available", "KubeletHasInsufficientPID", "kubelet has insufficient PID available"},
	} {
		c := corev1.NodeCondition{Type: k.t, Status: corev1.ConditionFalse, Reason: k.okReason, Message: k.okMsg, LastHeartbeatTime: ts, LastTransitionTime: ts}
		if k.on {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, k.badReason, k.badMsg
		}
		for _, q := range prev {
			if q.Type == c.Type && q.Status == c.Status {
				c.LastTransitionTime, c.LastHeartbeatTime = q.LastTransitionTime, q.LastHeartbeatTime
			}
		}
		out = append(out, c)
	}
	return out
}

// measure measures the node now (Config.Measure, a test's, or Measure).
func (a *Agent) measure() Measures {
	if a.cfg.Measure != nil {
		return a.cfg.Measure(a.cfg.StateDir)
	}
	return Measure(a.cfg.StateDir)
}

// withPressure replaces st's pressure conditions by those measured now
// (the other conditions keep their place).
func (a *Agent) withPressure(st *corev1.NodeStatus, prev *corev1.NodeStatus) {
	th := a.cfg.Pressure.withDefaults()
	now := a.now()
	p := a.pressure.observe(evaluatePressure(a.measure(), th), now, th.TransitionPeriod)
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

// imageGC collects images every ImageGC.Period until ctx ends.
func (a *Agent) imageGC(ctx context.Context) error {
	p := a.cfg.ImageGC.WithDefaults()
	t := time.NewTicker(p.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		a.collectImages(p)
	}
}

// collectImages removes images no pod of the node uses, least recently
// used first, when the state directory's file system is above the high
// threshold, until it is under the low one (or nothing more may go).
func (a *Agent) collectImages(p image.GCPolicy) {
	m := a.measure()
	target := p.GCTarget(m.DiskSize-m.DiskAvailable, m.DiskSize)
	if target <= 0 {
		return
	}
	removed, freed, err := a.images.GC(target, a.imagesInUse(), p.WithDefaults().MinAge, a.now())
	for _, im := range removed {
		a.log.Info("image removed to free disk space", "image", im.ID, "refs", im.Refs)
	}
	if err != nil || freed < target {
		a.log.Warn("image garbage collection freed less than needed", "freed", freed, "wanted", target, "err", err)
	}
}

// imagesInUse reports whether an image is used by a pod bound to the node
// (whatever its phase: a stopped container may start again), by the
// references of its containers or the imageIDs of their statuses.
func (a *Agent) imagesInUse() func(image.Image) bool {
	used := map[string]bool{}
	objs, _ := a.cfg.View.List("", "pods", "")
	for _, o := range objs {
		if !a.mine(o) {
			continue
		}
		var pod corev1.Pod
		if reconcile.DecodeInto(o, &pod) != nil {
			continue
		}
		var refs []string
		for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
			refs = append(refs, c.Image)
		}
		for _, c := range pod.Spec.EphemeralContainers {
			refs = append(refs, c.Image)
		}
		for _, st := range slices.Concat(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses) {
			if _, digest, ok := strings.Cut(st.ImageID, "@"); ok {
				used[digest] = true
			}
		}
		for _, r := range refs {
			used[r] = true
			if _, digest, ok := strings.Cut(r, "@"); ok {
				used[digest] = true
			}
			if n, err := image.Normalize(r); err == nil {
				used[n] = true
			}
		}
	}
	return func(im image.Image) bool {
		if used[im.ID] || used[im.Digest] {
			return true
		}
		return slices.ContainsFunc(im.Refs, func(r string) bool { return used[r] })
	}
}
