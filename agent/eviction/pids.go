package eviction

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// PID eviction, as the kubelet's for the pid.available signal: while the
// node's free process ids are under the PIDPressure threshold (and
// neither memory nor disk is short, whose signals come first), one pod
// per period is evicted, ranked by rankPIDs; no node-level reclaim comes
// before it. The process count of a pod is read from its cgroup.

// resourcePIDs is the kubelet's eviction-internal resource name for
// process ids (helpers.go's resourcePids), the one its message names.
const resourcePIDs = "pids"

// pidCandidate is a running pod with its process count.
type pidCandidate struct {
	evictedPod
	procs int64
	known bool // the pod's cgroup was read
}

// evictForPIDs evicts the pod rankPIDs puts first.
func (m *Manager) evictForPIDs(ms Measures, th Thresholds) *evictedPod {
	pods := m.evictable()
	if len(pods) == 0 {
		m.cfg.Log.Warn("PID pressure but no pod to evict", "pids", ms.PIDs, "limit", ms.PIDLimit)
		return nil
	}
	cands := make([]pidCandidate, 0, len(pods))
	for _, p := range pods {
		n, ok := PodProcesses(p.UID)
		cands = append(cands, pidCandidate{evictedPod: p, procs: n, known: ok})
	}
	rankPIDs(cands)
	v := cands[0]
	msg := pidPressureMessage(ms, th, v.Pod)
	m.cfg.Log.Info("evicting a pod: PID pressure", "pod", v.Pod.Namespace+"/"+v.Pod.Name, "processes", v.procs, "pids", ms.PIDs, "limit", ms.PIDLimit)
	v.Worker.Evict(msg)
	return &v.evictedPod
}

// pidPressureMessage is the kubelet's message for pid.available: the
// threshold (a percentage of the pid limit, binary SI as every
// percentage threshold) and the pids free (decimal SI); no container
// part, the kubelet has no per-container usage to tell for pids.
func pidPressureMessage(m Measures, th Thresholds, pod *corev1.Pod) string {
	return evictionMessage(resourcePIDs, thresholdQuantity(th.PIDAvailablePercent, m.PIDLimit),
		resource.NewQuantity(m.PIDLimit-m.PIDs, resource.DecimalSI), pod, nil, nil)
}

// rankPIDs orders candidates as the kubelet's rankPIDPressure:
// orderedBy(priority, process) — lower priority first, then a pod without
// stats, then more processes. Ties go by namespace and name.
func rankPIDs(cands []pidCandidate) {
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if pa, pb := priorityOf(a.Pod), priorityOf(b.Pod); pa != pb {
			return pa < pb
		}
		if a.known != b.known {
			return !a.known
		}
		if a.procs != b.procs {
			return a.procs > b.procs
		}
		return a.Pod.Namespace+"/"+a.Pod.Name < b.Pod.Namespace+"/"+b.Pod.Name
	})
}

// PodProcesses counts pod uid's processes as the kubelet's stats do (the
// CRI stats provider sums its containers' process counts, each the
// length of the cgroup's cgroup.procs — processes, not threads): every
// cgroup.procs under the pod cgroup, in the pids hierarchy of cgroup v1,
// else the unified one, else v1's memory hierarchy.
func PodProcesses(uid string) (int64, bool) {
	for _, root := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory"} {
		dir := filepath.Join(root, "wake", uid)
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
			continue
		}
		var n int64
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil // a container's cgroup removed meanwhile
			}
			if d.IsDir() {
				if b, err := os.ReadFile(filepath.Join(p, "cgroup.procs")); err == nil {
					n += int64(bytes.Count(b, []byte{'\n'}))
				}
			}
			return nil
		})
		return n, true
	}
	return 0, false
}
