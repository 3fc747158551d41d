package libct

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/agent/runtime"
)

// runTool runs the test tool with args in a fresh container and returns
// what it printed.
func runTool(t *testing.T, mutate func(*runtime.ContainerSpec), args ...string) string {
	t.Helper()
	_, layers := pulledImage(t)
	r, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, t.TempDir(), "tool")
	spec := specFor(t, sb, layers, "tool", args...)
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
	exit, err := r.Wait(t.Context(), spec.ID)
	log, _ := os.ReadFile(spec.LogPath)
	if err != nil || exit.Code != 0 {
		t.Fatalf("tool %v: %+v, %v: %s", args, exit, err, log)
	}
	return string(logs.Content(log))
}

// syscallResults runs `tool syscall` for keyctl (not in the default
// profile), clone3 (ENOSYS in it) and unshare (allowed only with
// CAP_SYS_ADMIN, which it needs anyway).
func syscallResults(t *testing.T, mutate func(*runtime.ContainerSpec)) map[string]string {
	out := runTool(t, mutate, "syscall", "keyctl", "clone3", "unshare")
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if name, res, ok := strings.Cut(line, ": "); ok {
			got[name] = res
		}
	}
	return got
}

const (
	eperm  = "errno 1 (operation not permitted)"
	enosys = "errno 38 (function not implemented)"
	einval = "errno 22 (invalid argument)"
)

func TestSeccompProfiles(t *testing.T) {
	if !SeccompSupported() {
		_, why := seccompSupport()
		// Containers still run, unfiltered.
		if got := inspect(t, nil); got["Seccomp"] != "0" {
			t.Errorf("Seccomp = %v without seccomp support", got["Seccomp"])
		}
		t.Skipf("no seccomp filter here: %s (go test -tags seccomp, with libseccomp-dev installed)", why)
	}
	for _, tt := range []struct {
		name    string
		mutate  func(*runtime.ContainerSpec)
		mode    string // /proc/self/status Seccomp: 0 none, 2 filter
		want    map[string]string
		notWant map[string]string
	}{
		{"unset means RuntimeDefault", nil, "2",
			map[string]string{"keyctl": eperm, "clone3": enosys, "unshare": eperm}, nil},
		{"RuntimeDefault", func(s *runtime.ContainerSpec) { s.Seccomp.Type = runtime.SeccompRuntimeDefault }, "2",
			map[string]string{"keyctl": eperm, "clone3": enosys}, nil},
		// Unconfined: the kernel answers (keyctl finds no thread keyring,
		// clone3 rejects its arguments); unshare still lacks the capability.
		{"Unconfined", func(s *runtime.ContainerSpec) { s.Seccomp.Type = runtime.SeccompUnconfined }, "0",
			map[string]string{"clone3": einval, "unshare": eperm}, map[string]string{"keyctl": eperm}},
		{"privileged runs unconfined", func(s *runtime.ContainerSpec) { s.Privileged = true }, "0",
			map[string]string{"clone3": einval, "unshare": "ok"}, map[string]string{"keyctl": eperm}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := inspect(t, tt.mutate); got["Seccomp"] != tt.mode {
				t.Errorf("Seccomp mode %v, want %s", got["Seccomp"], tt.mode)
			}
			got := syscallResults(t, tt.mutate)
			for name, want := range tt.want {
				if got[name] != want {
					t.Errorf("%s: %q, want %q", name, got[name], want)
				}
			}
			for name, bad := range tt.notWant {
				if got[name] == bad || got[name] == "" {
					t.Errorf("%s: %q", name, got[name])
				}
			}
		})
	}
}

// A Localhost profile is read from its file and enforced; one that is
// missing or malformed refuses the container, which is never kept.
func TestSeccompLocalhost(t *testing.T) {
	_, layers := pulledImage(t)
	r, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for name, path := range map[string]string{
		"missing":        dir + "/nothing.json",
		"malformed":      write("bad.json", `{"defaultAction": `),
		"no action":      write("noaction.json", `{"syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}`),
		"empty syscalls": write("empty.json", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}`),
	} {
		sb := newSandbox(t, t.TempDir(), "localhost")
		spec := specFor(t, sb, layers, "localhost", "true")
		spec.Seccomp = runtime.Seccomp{Type: runtime.SeccompLocalhost, LocalhostProfile: path}
		if err := r.Create(t.Context(), spec); err == nil || !strings.Contains(err.Error(), "seccomp profile") {
			t.Errorf("%s: Create = %v, want a refusal naming the profile", name, err)
		}
		if list, _ := r.List(t.Context()); len(list) != 0 {
			t.Fatalf("%s: the refused container was kept: %+v", name, list)
		}
	}
	if !SeccompSupported() {
		t.Skip("no seccomp support in this build: a Localhost profile is refused, not enforced (go test -tags seccomp)")
	}
	// A profile that allows everything but keyctl (EPERM).
	profile := write("audit.json", `{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["keyctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}`)
	got := syscallResults(t, func(s *runtime.ContainerSpec) {
		s.Seccomp = runtime.Seccomp{Type: runtime.SeccompLocalhost, LocalhostProfile: profile}
	})
	if got["keyctl"] != eperm || got["clone3"] != einval {
		t.Errorf("under the Localhost profile: keyctl %q (want %q), clone3 %q (want %q, allowed)", got["keyctl"], eperm, got["clone3"], einval)
	}
}

// The profile's shape, without containers: capabilities widen it as in
// Docker's profile, and every architecture of the machine is filtered.
func TestDefaultSeccompShape(t *testing.T) {
	allowed := func(p *specs.LinuxSeccomp, name string) bool {
		for _, sc := range p.Syscalls {
			if sc.Action == specs.ActAllow && len(sc.Args) == 0 && strings.Contains(" "+strings.Join(sc.Names, " ")+" ", " "+name+" ") {
				return true
			}
		}
		return false
	}
	p := defaultSeccomp(DefaultCapabilities)
	if p.DefaultAction != specs.ActErrno || p.DefaultErrnoRet == nil || *p.DefaultErrnoRet != 1 {
		t.Errorf("default action %v %v, want errno EPERM", p.DefaultAction, p.DefaultErrnoRet)
	}
	if len(p.Architectures) == 0 {
		t.Error("no architectures")
	}
	for name, want := range map[string]bool{"read": true, "chroot": true, "keyctl": false, "mount": false, "ptrace": true, "clone": false, "bpf": false} {
		if allowed(p, name) != want {
			t.Errorf("default capabilities: %s allowed = %v", name, !want)
		}
	}
	admin := defaultSeccomp(append(DefaultCapabilities, "CAP_SYS_ADMIN"))
	for _, name := range []string{"mount", "unshare", "clone", "clone3", "setns"} {
		if !allowed(admin, name) {
			t.Errorf("with CAP_SYS_ADMIN: %s not allowed", name)
		}
	}
	b, _ := json.Marshal(p)
	if strings.Contains(string(b), "io_uring") {
		t.Error("io_uring is allowed")
	}
}
