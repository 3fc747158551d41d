package devcluster

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Close kills every process of the cluster (and every container its agents
// started), then removes the pods' cgroups, every mount under the work
// directory, the network namespaces, the bridge and the work directory.
// It is idempotent; what it could not remove is in the error (and in
// Leftovers).
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()

	if c.stopSuper != nil {
		c.stopSuper()
		<-c.superDone
	}
	c.noteSandboxes()
	var wg sync.WaitGroup
	for _, p := range c.Procs() {
		wg.Add(1)
		go func() { defer wg.Done(); p.Kill() }()
	}
	wg.Wait()
	var errs []error
	if err := c.killContainers(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.removeCgroups()...)
	errs = append(errs, unmountUnder(c.Dir)...)
	for _, m := range c.members {
		if netnsExists(m.netns) {
			if err := ip("netns", "del", m.netns); err != nil {
				errs = append(errs, err)
			}
		}
		// The host end goes with its peer; this is for a half-made member.
		if linkExists(m.veth) {
			ip("link", "del", m.veth)
		}
	}
	if c.Bridge != "" && linkExists(c.Bridge) {
		if err := ip("link", "del", c.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, err)
	}
	if left := c.Leftovers(); len(left) > 0 {
		errs = append(errs, fmt.Errorf("left behind: %s", strings.Join(left, "; ")))
	}
	return errors.Join(errs...)
}

// noteSandboxes remembers every pod sandbox the agents have (their cgroups
// are /wake/<sandbox> in every hierarchy).
func (c *Cluster) noteSandboxes() {
	c.mu.Lock()
	defer c.mu.Unlock()
	dirs, _ := filepath.Glob(filepath.Join(c.Dir, "nodes", "*", "sandboxes", "*"))
	for _, d := range dirs {
		c.sandboxIDs[filepath.Base(d)] = true
	}
}

// namespaceInodes are the network namespaces of the nodes and of their
// pods: every process in one of them belongs to this cluster.
func (c *Cluster) namespaceInodes() map[uint64]bool {
	out := map[uint64]bool{}
	for _, m := range c.members {
		if ino, ok := netnsInode(filepath.Join("/run/netns", m.netns)); ok {
			out[ino] = true
		}
	}
	pods, _ := filepath.Glob(filepath.Join(c.Dir, "nodes", "*", "sandboxes", "*", "net"))
	for _, p := range pods {
		if ino, ok := netnsInode(p); ok {
			out[ino] = true
		}
	}
	return out
}

// killContainers kills every process left in the nodes' and pods' network
// namespaces (containers, log shims) and in the pods' cgroups.
func (c *Cluster) killContainers() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := c.strayPids()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes that survive SIGKILL: %v", pids)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// strayPids are the live processes of this cluster's namespaces and pod
// cgroups, the harness's own processes excluded.
func (c *Cluster) strayPids() []int {
	inodes := c.namespaceInodes()
	set := map[int]bool{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if ino, ok := netnsInode(fmt.Sprintf("/proc/%d/ns/net", pid)); ok && inodes[ino] {
			set[pid] = true
		}
	}
	for _, d := range c.cgroupDirs() {
		filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil || !de.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil {
					set[pid] = true
				}
			}
			return nil
		})
	}
	var out []int
	for pid := range set {
		if isZombieOrGone(pid) {
			continue
		}
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

func isZombieOrGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2] == 'Z'
	}
	return false
}

// cgroupDirs are the cgroups of this cluster's pods that exist, in every
// hierarchy.
func (c *Cluster) cgroupDirs() []string {
	c.mu.Lock()
	ids := make([]string, 0, len(c.sandboxIDs))
	for id := range c.sandboxIDs {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/wake")
	if _, err := os.Stat("/sys/fs/cgroup/wake"); err == nil {
		roots = append(roots, "/sys/fs/cgroup/wake")
	}
	var out []string
	for _, r := range roots {
		for _, id := range ids {
			d := filepath.Join(r, id)
			if _, err := os.Stat(d); err == nil {
				out = append(out, d)
			}
		}
	}
	return out
}

// removeCgroups removes the pods' cgroups, deepest first.
func (c *Cluster) removeCgroups() []error {
	var errs []error
	for _, d := range c.cgroupDirs() {
		var dirs []string
		filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err == nil && de.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			var err error
			for try := 0; try < 20; try++ {
				if err = syscall.Rmdir(dirs[i]); err == nil || errors.Is(err, syscall.ENOENT) {
					err = nil
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errs
}

// mountsUnder are the mount points at or under dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	// Later mounts may sit on earlier ones: undo them last-first.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func unmountUnder(dir string) []error {
	var errs []error
	for try := 0; try < 5; try++ {
		mps := mountsUnder(dir)
		if len(mps) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, mp := range mps {
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
			}
		}
	}
	if mps := mountsUnder(dir); len(mps) > 0 {
		errs = append(errs, fmt.Errorf("still mounted: %v", mps))
	}
	return errs
}

// Leftovers lists what of the cluster is still on the machine: processes,
// network namespaces, links, pods' cgroups, mounts, the work directory.
// After Close it must be empty.
func (c *Cluster) Leftovers() []string {
	var out []string
	for _, p := range c.Procs() {
		if p.Running() {
			out = append(out, "process "+p.Name)
		}
	}
	if pids := c.strayPids(); len(pids) > 0 {
		out = append(out, fmt.Sprintf("container processes %v", pids))
	}
	for _, m := range c.members {
		if netnsExists(m.netns) {
			out = append(out, "netns "+m.netns)
		}
		if linkExists(m.veth) {
			out = append(out, "link "+m.veth)
		}
	}
	if c.Bridge != "" && linkExists(c.Bridge) {
		out = append(out, "bridge "+c.Bridge)
	}
	for _, d := range c.cgroupDirs() {
		out = append(out, "cgroup "+d)
	}
	for _, mp := range mountsUnder(c.Dir) {
		out = append(out, "mount "+mp)
	}
	if _, err := os.Stat(c.Dir); err == nil {
		out = append(out, "directory "+c.Dir)
	}
	return out
}
