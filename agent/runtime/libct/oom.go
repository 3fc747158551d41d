package libct

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// oomKilled reports whether the kernel's OOM killer killed a process in the
// container's memory cgroup: the oom_kill counter of memory.oom_control
// (cgroup v1, kernel ≥ 4.13) or memory.events (cgroup v2).
func oomKilled(cgroupPaths map[string]string) bool {
	if p, ok := cgroupPaths["memory"]; ok {
		return counter(filepath.Join(p, "memory.oom_control"), "oom_kill") > 0
	}
	if p, ok := cgroupPaths[""]; ok {
		return counter(filepath.Join(p, "memory.events"), "oom_kill") > 0
	}
	return false
}

// counter reads "key value" lines and returns key's value (0 if absent).
func counter(file, key string) int64 {
	f, err := os.Open(file)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
