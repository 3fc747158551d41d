package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wakehq/wake/agent/eviction"
)

// Usage as cadvisor reads it for the kubelet's resource metrics: CPU as
// the cgroup's cumulative CPU time, memory as its working set
// (eviction.WorkingSet); cgroup v1's controllers first, else the unified
// hierarchy.

// cpuUsage is the cumulative CPU time of the cgroup at rel, nanoseconds.
func cpuUsage(rel string) (uint64, bool) {
	for _, root := range []string{"/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/cpu,cpuacct"} {
		if v, err := strconv.ParseUint(readTrim(filepath.Join(root, rel, "cpuacct.usage")), 10, 64); err == nil {
			return v, true
		}
	}
	for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		if usec, ok := statField(filepath.Join(root, rel, "cpu.stat"), "usage_usec"); ok {
			return usec * 1000, true
		}
	}
	return 0, false
}

// statField reads one "key value" line of a cgroup stat file.
func statField(path, key string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// nodeCPU is the node's cumulative CPU time: the root cgroup's, else what
// /proc/stat counts busy (all but idle and iowait; USER_HZ is 100 on
// Linux).
func nodeCPU() (uint64, bool) {
	if v, ok := cpuUsage(""); ok {
		return v, true
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var busy uint64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, false
		}
		busy += n
	}
	return busy * 1e7, true
}

// nodeWorkingSet is the node's memory working set: the root cgroup's
// (cgroup v1); where the root has no usage file (cgroup v2), as
// libcontainer computes it for the root: MemTotal less MemFree, less the
// inactive file pages.
func nodeWorkingSet() (int64, bool) {
	if v, ok := eviction.WorkingSet(""); ok {
		return v, true
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	kb := map[string]int64{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if f := strings.Fields(v); len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			kb[k] = n
		}
	}
	total, ok := kb["MemTotal"]
	if !ok {
		return 0, false
	}
	return max(total-kb["MemFree"]-kb["Inactive(file)"], 0) << 10, true
}
