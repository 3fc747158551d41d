package libct

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/agent/runtime"
)

// dialIn opens a TCP connection from inside the network namespace at path:
// the socket is created on a locked thread switched into it, then used
// from anywhere. The thread is never switched back: the goroutine exits
// locked and Go destroys it.
func dialIn(nsPath, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		// No UnlockOSThread: the thread ends with this goroutine.
		target, err := netns.GetFromPath(nsPath)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			ch <- result{err: err}
			return
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

func TestHTTPServerInSandbox(t *testing.T) {
	_, layers := pulledImage(t)
	r, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, t.TempDir(), "web")
	spec := specFor(t, sb, layers, "web-server", "serve", "127.0.0.1:8080")
	spec.UID, spec.GID = 65534, 65534 // port 8080 needs no capability
	t.Cleanup(func() { forceRemove(r, spec.ID) })
	if err := r.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context(), spec.ID); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) { return dialIn(sb.NetNS, addr) },
	}}
	var body []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get("http://127.0.0.1:8080/")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(spec.LogPath)
			t.Fatalf("server never answered in the sandbox: %v; log %q", err, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The hostname comes from the sandbox's UTS namespace.
	if got := strings.TrimSpace(string(body)); got != "hello from web" {
		t.Errorf("body = %q", got)
	}
	// Not reachable from the host's network namespace.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:8080", 200*time.Millisecond); err == nil {
		c.Close()
		t.Error("the sandbox's port is open in the host network namespace")
	}
}

// inspect runs `tool inspect` in a fresh container and decodes what it saw.
func inspect(t *testing.T, mutate func(*runtime.ContainerSpec)) map[string]any {
	_, layers := pulledImage(t)
	r, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, t.TempDir(), "inspect")
	spec := specFor(t, sb, layers, "inspect", "inspect")
	if mutate != nil {
		mutate(&spec)
	}
	t.Cleanup(func() { forceRemove(r, spec.ID) })
	if err := r.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context(), spec.ID); err != nil {
		t.Fatal(err)
	}
	if exit, err := r.Wait(t.Context(), spec.ID); err != nil || exit.Code != 0 {
		log, _ := os.ReadFile(spec.LogPath)
		t.Fatalf("inspect: %+v, %v: %s", exit, err, log)
	}
	log, err := os.ReadFile(spec.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(logs.Content(log), &out); err != nil {
		t.Fatalf("inspect output %q: %v", log, err)
	}
	return out
}

func TestSecurityDefaults(t *testing.T) {
	got := inspect(t, nil)
	// Docker's default set: chown dac_override fowner fsetid kill setgid
	// setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write setfcap.
	if got["CapEff"] != "00000000a80425fb" || got["CapBnd"] != "00000000a80425fb" {
		t.Errorf("capabilities eff %v bnd %v, want Docker's default 00000000a80425fb", got["CapEff"], got["CapBnd"])
	}
	if got["NoNewPrivs"] != "1" {
		t.Errorf("NoNewPrivs = %v", got["NoNewPrivs"])
	}
	if got["timerListMasked"] != true {
		t.Error("/proc/timer_list is not masked")
	}
	if got["procSysWritable"] != false {
		t.Error("/proc/sys is writable")
	}
	if got["cwd"] != "/tmp" || got["hostname"] != "inspect" {
		t.Errorf("cwd %v hostname %v", got["cwd"], got["hostname"])
	}
	// No agent descriptor leaks in (runc's CVE-2024-21626): 0-2 are
	// /dev/null and the log shim's pipes, the others the tool's own.
	checkFDs(t, got["fds"].(map[string]any), func(fd, target string) bool {
		return target == "/dev/null" || strings.HasPrefix(target, "pipe:")
	})

	nobody := inspect(t, func(s *runtime.ContainerSpec) { s.UID, s.GID = 65534, 65534 })
	if nobody["uid"] != float64(65534) || nobody["CapEff"] != "0000000000000000" {
		t.Errorf("as nobody: uid %v CapEff %v", nobody["uid"], nobody["CapEff"])
	}
}

func TestCgroupLimitsAndCleanup(t *testing.T) {
	_, layers := pulledImage(t)
	state := t.TempDir()
	r, err := New(state)
	if err != nil {
		t.Fatal(err)
	}
	nsDir := t.TempDir()
	sb, err := NewSandbox(nsDir, "limits", "limits")
	if err != nil {
		t.Fatal(err)
	}
	spec := specFor(t, sb, layers, "limited", "sleep")
	spec.Limits = runtime.Resources{MemoryBytes: 64 << 20, CPUShares: 512, CPUQuotaUS: 50000, CPUPeriodUS: 100000, Pids: 32}
	if err := r.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context(), spec.ID); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"memory/wake/limits/limited/memory.limit_in_bytes":       fmt.Sprint(64 << 20),
		"memory/wake/limits/limited/memory.memsw.limit_in_bytes": fmt.Sprint(64 << 20),
		"cpu/wake/limits/limited/cpu.shares":                     "512",
		"cpu/wake/limits/limited/cpu.cfs_quota_us":               "50000",
		"cpu/wake/limits/limited/cpu.cfs_period_us":              "100000",
		"pids/wake/limits/limited/pids.max":                      "32",
	} {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", file))
		if got := strings.TrimSpace(string(b)); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %s", file, got, err, want)
		}
	}
	st, _ := r.State(t.Context(), spec.ID)
	if procs, _ := os.ReadFile("/sys/fs/cgroup/memory/wake/limits/limited/cgroup.procs"); strings.TrimSpace(string(procs)) != fmt.Sprint(st.Pid) {
		t.Errorf("cgroup.procs = %q, want the container's pid %d", procs, st.Pid)
	}

	r.Kill(t.Context(), spec.ID, syscall.SIGKILL)
	r.Wait(t.Context(), spec.ID)
	if err := r.Delete(t.Context(), spec.ID); err != nil {
		t.Fatal(err)
	}
	if err := RemoveSandbox(nsDir, sb); err != nil {
		t.Fatal(err)
	}
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*/wake/limits")
	if len(hierarchies) != 0 {
		t.Errorf("cgroups left behind: %v", hierarchies)
	}
	for _, dir := range []string{state, nsDir} {
		if m := mountsUnder(t, dir); len(m) != 0 {
			t.Errorf("mounts left under %s: %v", dir, m)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(state, "containers")); len(ents) != 0 {
		t.Errorf("container state left: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(state, "libcontainer")); len(ents) != 0 {
		t.Errorf("libcontainer state left: %v", ents)
	}
}

func mountsUnder(t *testing.T, dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir) {
			out = append(out, fields[4])
		}
	}
	return out
}

// Privileged is what the pod asks for, never the default: every capability
// the agent has, no masked paths, no seccomp filter.
func TestPrivilegedOnlyWhenAsked(t *testing.T) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var agentBnd string
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			agentBnd = strings.TrimSpace(v)
		}
	}
	got := inspect(t, func(s *runtime.ContainerSpec) { s.Privileged = true })
	if got["CapEff"] != agentBnd || got["CapBnd"] != agentBnd {
		t.Errorf("privileged: CapEff %v CapBnd %v, want the agent's bounding set %s", got["CapEff"], got["CapBnd"], agentBnd)
	}
	if got["timerListMasked"] != false || got["Seccomp"] != "0" {
		t.Errorf("privileged: timer_list masked %v, seccomp mode %v", got["timerListMasked"], got["Seccomp"])
	}
	if def := inspect(t, nil); def["CapEff"] == agentBnd {
		t.Error("a container that did not ask is privileged")
	}
}
