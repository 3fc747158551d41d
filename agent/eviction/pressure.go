package eviction

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Thresholds are the kubelet's hard eviction signals that turn the node's
// pressure conditions True. Zero values take the defaults.
type Thresholds struct {
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

// WithDefaults is t with its zero values replaced by the defaults.
func (t Thresholds) WithDefaults() Thresholds {
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

// Evaluate compares measures with thresholds (defaults applied),
// percentages as the kubelet computes them (thresholdQuantity).
func Evaluate(m Measures, t Thresholds) Pressure {
	t = t.WithDefaults()
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

// readTrim is a small file's content without surrounding space ("" when
// unreadable).
func readTrim(p string) string {
	b, _ := os.ReadFile(p)
	return strings.TrimSpace(string(b))
}
