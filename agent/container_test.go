package agent

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/agent/runtime"
)

func TestCommand(t *testing.T) {
	img := image.Config{Entrypoint: []string{"/ep"}, Cmd: []string{"cmd"}}
	env := map[string]string{"X": "1"}
	for _, tc := range []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"image defaults", nil, nil, []string{"/ep", "cmd"}},
		{"args replace CMD", nil, []string{"a", "$(X)"}, []string{"/ep", "a", "1"}},
		{"command replaces both", []string{"/c"}, nil, []string{"/c"}},
		{"command and args", []string{"/c", "$(X)"}, []string{"$$(X)", "$(Y)"}, []string{"/c", "1", "$(X)", "$(Y)"}},
	} {
		got := command(&corev1.Container{Command: tc.command, Args: tc.args}, img, env)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPhase(t *testing.T) {
	run := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	ok := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}}
	bad := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	crash := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	creating := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	for _, tc := range []struct {
		policy      corev1.RestartPolicy
		initialized bool
		ss          []corev1.ContainerStatus
		want        corev1.PodPhase
	}{
		{corev1.RestartPolicyAlways, false, nil, corev1.PodPending},
		{corev1.RestartPolicyAlways, true, []corev1.ContainerStatus{run, creating}, corev1.PodPending},
		{corev1.RestartPolicyAlways, true, []corev1.ContainerStatus{run, crash}, corev1.PodRunning},
		{corev1.RestartPolicyAlways, true, []corev1.ContainerStatus{crash}, corev1.PodRunning},
		{corev1.RestartPolicyNever, true, []corev1.ContainerStatus{ok, ok}, corev1.PodSucceeded},
		{corev1.RestartPolicyNever, true, []corev1.ContainerStatus{ok, bad}, corev1.PodFailed},
		{corev1.RestartPolicyOnFailure, true, []corev1.ContainerStatus{ok, crash}, corev1.PodRunning},
	} {
		if got := phase(tc.policy, tc.initialized, false, tc.ss); got != tc.want {
			t.Errorf("%s %v %d statuses: got %s, want %s", tc.policy, tc.initialized, len(tc.ss), got, tc.want)
		}
	}
}

func TestBackoffAndRestarts(t *testing.T) {
	d := time.Duration(0)
	var got []time.Duration
	for range 7 {
		d = nextBackoff(d, 10*time.Second, 5*time.Minute)
		got = append(got, d)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("backoff %v, want %v", got, want)
	}
	ok, bad := &runtime.ExitStatus{}, &runtime.ExitStatus{Code: 1}
	if restarts(corev1.RestartPolicyNever, bad) || !restarts(corev1.RestartPolicyAlways, ok) ||
		restarts(corev1.RestartPolicyOnFailure, ok) || !restarts(corev1.RestartPolicyOnFailure, bad) {
		t.Error("restart policy decisions are wrong")
	}
}

func TestContainerIDRoundTrip(t *testing.T) {
	id := containerID("0b7c-uid", "my-app", 12)
	name, n, ok := parseContainerID(id)
	if !ok || name != "my-app" || n != 12 {
		t.Errorf("parse %q = %q %d %v", id, name, n, ok)
	}
	if err := (&runtime.ContainerSpec{ID: id, Sandbox: runtime.PodSandbox{ID: "0b7c-uid"}, Args: []string{"x"}, LogPath: "x"}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestSeccompOf(t *testing.T) {
	local := "profiles/audit.json"
	pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}}}
	plain := &corev1.Container{Name: "a"}
	own := &corev1.Container{Name: "b", SecurityContext: &corev1.SecurityContext{
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: &local}}}
	if got := seccompOf(&corev1.Pod{}, plain); got != (runtime.Seccomp{}) {
		t.Errorf("no profile anywhere: %+v, want the runtime default", got)
	}
	if got := seccompOf(pod, plain); got.Type != runtime.SeccompUnconfined {
		t.Errorf("pod's profile: %+v, want Unconfined", got)
	}
	if got := seccompOf(pod, own); got.Type != runtime.SeccompLocalhost || got.LocalhostProfile != local {
		t.Errorf("container's own profile: %+v, want Localhost %s", got, local)
	}
}

func TestLocalSeccompPaths(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "audit.json"), []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := localSeccomp(runtime.Seccomp{Type: runtime.SeccompLocalhost, LocalhostProfile: "profiles/audit.json"}, dir)
	if err != nil || got.LocalhostProfile != filepath.Join(dir, "profiles", "audit.json") {
		t.Errorf("a profile inside the directory: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "/etc/passwd", "../outside.json", "profiles/../../x.json", "profiles/missing.json"} {
		var ce *configError
		if _, err := localSeccomp(runtime.Seccomp{Type: runtime.SeccompLocalhost, LocalhostProfile: bad}, dir); !errors.As(err, &ce) {
			t.Errorf("Localhost/%s: %v, want a config error", bad, err)
		}
	}
	if got, err := localSeccomp(runtime.Seccomp{}, dir); err != nil || got != (runtime.Seccomp{}) {
		t.Errorf("the default profile is left alone: %+v, %v", got, err)
	}
}
