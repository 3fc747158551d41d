// Package runtimetest is the one test suite every runtime.Runtime must
// pass (libct for real, fake in memory). Containers run the test tool
// (internal/testimage/tool) as /bin/tool; ToolProgram plays it for
// the fake.
package runtimetest

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wakehq/wake/agent/runtime"
)

// Harness connects the suite to one implementation.
type Harness struct {
	// Runtime is a fresh runtime with no containers.
	Runtime runtime.Runtime
	// Spec returns a spec for container id running /bin/tool with args,
	// in a sandbox of the harness's making, logging to a fresh file.
	Spec func(t *testing.T, id string, args ...string) runtime.ContainerSpec
	// Reopen returns a second runtime instance on the same state, as
	// after an agent restart.
	Reopen func(t *testing.T) runtime.Runtime
}

// Run runs the suite; newHarness is called once per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"ExitCode", testExitCode},
		{"Lifecycle", testLifecycle},
		{"Errors", testErrors},
		{"KillWithSignal", testKillWithSignal},
		{"OOMKilled", testOOMKilled},
		{"DeleteCreated", testDeleteCreated},
		{"List", testList},
		{"Readopt", testReadopt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newHarness(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func run(t *testing.T, r runtime.Runtime, spec runtime.ContainerSpec) {
	t.Helper()
	if err := r.Create(ctx(t), spec); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := r.Start(ctx(t), spec.ID); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func wait(t *testing.T, r runtime.Runtime, id string) runtime.ExitStatus {
	t.Helper()
	exit, err := r.Wait(ctx(t), id)
	if err != nil {
		t.Fatalf("Wait(%s): %v", id, err)
	}
	return exit
}

func testExitCode(t *testing.T, h Harness) {
	for _, code := range []int{0, 3, 255} {
		spec := h.Spec(t, "exit-"+strconv.Itoa(code), "exit", strconv.Itoa(code))
		run(t, h.Runtime, spec)
		if exit := wait(t, h.Runtime, spec.ID); exit.Code != code || exit.OOMKilled || exit.Signal != 0 {
			t.Errorf("exit %d: got %+v", code, exit)
		}
		st, err := h.Runtime.State(ctx(t), spec.ID)
		if err != nil || st.Status != runtime.Exited || st.Exit == nil || st.Exit.Code != code || st.FinishedAt.IsZero() {
			t.Errorf("State after exit: %+v, %v", st, err)
		}
		if log, _ := os.ReadFile(spec.LogPath); !strings.Contains(string(log), "exiting with "+strconv.Itoa(code)) {
			t.Errorf("log = %q", log)
		}
		if err := h.Runtime.Delete(ctx(t), spec.ID); err != nil {
			t.Fatal(err)
		}
	}
}

func testLifecycle(t *testing.T, h Harness) {
	r := h.Runtime
	spec := h.Spec(t, "life", "sleep")
	if err := r.Create(ctx(t), spec); err != nil {
		t.Fatal(err)
	}
	st, err := r.State(ctx(t), spec.ID)
	if err != nil || st.Status != runtime.Created || st.SandboxID != spec.Sandbox.ID || st.CreatedAt.IsZero() || !st.StartedAt.IsZero() {
		t.Fatalf("after Create: %+v, %v", st, err)
	}
	if err := r.Start(ctx(t), spec.ID); err != nil {
		t.Fatal(err)
	}
	st, _ = r.State(ctx(t), spec.ID)
	if st.Status != runtime.Running || st.Pid <= 0 || st.StartedAt.IsZero() {
		t.Fatalf("after Start: %+v", st)
	}
	if err := r.Start(ctx(t), spec.ID); !errors.Is(err, runtime.ErrState) {
		t.Errorf("second Start = %v, want ErrState", err)
	}
	if err := r.Delete(ctx(t), spec.ID); !errors.Is(err, runtime.ErrState) {
		t.Errorf("Delete while running = %v, want ErrState", err)
	}
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Wait(short, spec.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait on a running container = %v, want the context's error", err)
	}
	if err := r.Kill(ctx(t), spec.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if exit := wait(t, r, spec.ID); exit.Code != 137 || exit.Signal != syscall.SIGKILL {
		t.Errorf("after SIGKILL: %+v", exit)
	}
	if err := r.Kill(ctx(t), spec.ID, syscall.SIGKILL); err != nil {
		t.Errorf("Kill of an exited container = %v, want nil", err)
	}
	if err := r.Delete(ctx(t), spec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.State(ctx(t), spec.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("State after Delete = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(spec.LogPath); err != nil {
		t.Errorf("log file gone after Delete: %v", err)
	}
}

func testErrors(t *testing.T, h Harness) {
	r := h.Runtime
	c := ctx(t)
	if err := r.Start(c, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Start = %v", err)
	}
	if _, err := r.Wait(c, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Wait = %v", err)
	}
	if err := r.Kill(c, "nope", syscall.SIGTERM); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Kill = %v", err)
	}
	if err := r.Delete(c, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Delete = %v", err)
	}
	if _, err := r.State(c, "nope"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("State = %v", err)
	}
	for _, mutate := range []func(*runtime.ContainerSpec){
		func(s *runtime.ContainerSpec) { s.ID = "../escape" },
		func(s *runtime.ContainerSpec) { s.Sandbox.ID = "a/b" },
		func(s *runtime.ContainerSpec) { s.Args = nil },
	} {
		spec := h.Spec(t, "invalid", "true")
		mutate(&spec)
		if err := r.Create(c, spec); err == nil {
			t.Errorf("Create accepted %+v", spec)
		}
	}
	spec := h.Spec(t, "dup", "exit", "0")
	run(t, r, spec)
	if err := r.Create(c, spec); !errors.Is(err, runtime.ErrExists) {
		t.Errorf("duplicate Create = %v, want ErrExists", err)
	}
	wait(t, r, spec.ID)
	if err := r.Start(c, spec.ID); !errors.Is(err, runtime.ErrState) {
		t.Errorf("Start after exit = %v, want ErrState", err)
	}
	if err := r.Delete(c, spec.ID); err != nil {
		t.Fatal(err)
	}
	if list, _ := r.List(c); len(list) != 0 {
		t.Errorf("failed creates left containers behind: %+v", list)
	}
}

func testKillWithSignal(t *testing.T, h Harness) {
	spec := h.Spec(t, "term", "sleep")
	run(t, h.Runtime, spec)
	waitLog(t, spec.LogPath, "sleeping") // its SIGTERM handler is installed
	if err := h.Runtime.Kill(ctx(t), spec.ID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if exit := wait(t, h.Runtime, spec.ID); exit.Code != 143 || exit.Signal != 0 {
		t.Errorf("after SIGTERM: %+v, want code 143 from the program's handler", exit)
	}
	if log, _ := os.ReadFile(spec.LogPath); !strings.Contains(string(log), "terminating") {
		t.Errorf("log = %q", log)
	}
	h.Runtime.Delete(ctx(t), spec.ID)
}

func testOOMKilled(t *testing.T, h Harness) {
	spec := h.Spec(t, "oom", "alloc", "256")
	spec.Limits.MemoryBytes = 32 << 20
	run(t, h.Runtime, spec)
	if exit := wait(t, h.Runtime, spec.ID); !exit.OOMKilled || exit.Code != 137 {
		t.Errorf("256 MiB under a 32 MiB limit: %+v, want OOMKilled with code 137", exit)
	}
	h.Runtime.Delete(ctx(t), spec.ID)

	spec = h.Spec(t, "fits", "alloc", "8")
	spec.Limits.MemoryBytes = 64 << 20
	run(t, h.Runtime, spec)
	if exit := wait(t, h.Runtime, spec.ID); exit.OOMKilled || exit.Code != 0 {
		t.Errorf("8 MiB under a 64 MiB limit: %+v", exit)
	}
	h.Runtime.Delete(ctx(t), spec.ID)
}

func testDeleteCreated(t *testing.T, h Harness) {
	spec := h.Spec(t, "never-started", "exit", "1")
	if err := h.Runtime.Create(ctx(t), spec); err != nil {
		t.Fatal(err)
	}
	if err := h.Runtime.Delete(ctx(t), spec.ID); err != nil {
		t.Fatalf("Delete of a created container: %v", err)
	}
	if log, _ := os.ReadFile(spec.LogPath); strings.Contains(string(log), "exiting") {
		t.Error("a container deleted before Start ran its process")
	}
}

func testList(t *testing.T, h Harness) {
	r := h.Runtime
	a, b := h.Spec(t, "b-second", "sleep"), h.Spec(t, "a-first", "exit", "0")
	run(t, r, a)
	run(t, r, b)
	wait(t, r, b.ID)
	list, err := r.List(ctx(t))
	if err != nil || len(list) != 2 || list[0].ID != "a-first" || list[1].ID != "b-second" ||
		list[0].Status != runtime.Exited || list[1].Status != runtime.Running {
		t.Fatalf("List = %+v, %v", list, err)
	}
	r.Kill(ctx(t), a.ID, syscall.SIGKILL)
	wait(t, r, a.ID)
	r.Delete(ctx(t), a.ID)
	r.Delete(ctx(t), b.ID)
	if list, _ := r.List(ctx(t)); len(list) != 0 {
		t.Errorf("List after Delete = %+v", list)
	}
}

// testReadopt: a second instance (the agent restarted) sees the running
// container, does not start it again, and can stop and delete it.
func testReadopt(t *testing.T, h Harness) {
	spec := h.Spec(t, "adopted", "sleep")
	run(t, h.Runtime, spec)
	before, _ := h.Runtime.State(ctx(t), spec.ID)
	r2 := h.Reopen(t)
	list, err := r2.List(ctx(t))
	if err != nil || len(list) != 1 || list[0].ID != spec.ID || list[0].Status != runtime.Running || list[0].Pid != before.Pid {
		t.Fatalf("List on the second instance = %+v, %v; want %s running as pid %d", list, err, spec.ID, before.Pid)
	}
	if err := r2.Start(ctx(t), spec.ID); !errors.Is(err, runtime.ErrState) {
		t.Errorf("Start on the second instance = %v, want ErrState (nothing started twice)", err)
	}
	if err := r2.Create(ctx(t), spec); !errors.Is(err, runtime.ErrExists) {
		t.Errorf("Create on the second instance = %v, want ErrExists", err)
	}
	if err := r2.Kill(ctx(t), spec.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exit := wait(t, r2, spec.ID)
	if exit.CodeUnknown || exit.Code != 137 || exit.Signal != syscall.SIGKILL {
		t.Errorf("exit seen by the second instance: %+v, want code 137 by SIGKILL", exit)
	}
	if err := r2.Delete(ctx(t), spec.ID); err != nil {
		t.Fatal(err)
	}
}

// waitLog waits until the container's log contains s.
func waitLog(t *testing.T, path, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), s) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("log never said %q: %q", s, b)
}
