package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchSchedQuick runs `wake bench-sched -quick` end to end against a
// freshly built wake binary: fake nodes kept alive by heartbeats, one
// Deployment, every pod bound. It checks that each figure is measured, not
// that targets are met: that depends on the machine.
func TestBenchSchedQuick(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "wake")
	build := exec.Command("go", "build", "-o", exe, "github.com/wakehq/wake/cmd/wake")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	o := defaultSchedOptions()
	o.quick()
	o.exe, o.workers, o.timeline = exe, 8, 250*time.Millisecond
	var out syncBuffer
	o.out = &out

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	figs, err := benchSched(ctx, o)
	if err != nil {
		t.Fatalf("bench-sched: %v\n%s", err, out.String())
	}
	got := map[string]figure{}
	for _, f := range figs {
		got[strings.TrimSpace(strings.SplitN(f.name, " (", 2)[0])] = f
	}
	for _, name := range []string{"register 20 nodes", "bind 300 pods on 20 nodes", "pod created → bound",
		"log events appended", "by actor", "scheduling decision"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no figure %q in:\n%s", name, out.String())
		}
	}
	if f := got["bind 300 pods on 20 nodes"]; f.verdict == "" || !strings.Contains(f.value, "pods/s") {
		t.Errorf("bind figure: %+v", f)
	}
	if f := got["by actor"]; !strings.Contains(f.value, "kube-scheduler 300 ") || !strings.Contains(f.value, "replicaset") {
		t.Errorf("the log does not hold 300 bindings and the ReplicaSet's pods: %+v", f)
	}
	if !strings.Contains(out.String(), "log timeline") {
		t.Errorf("no timeline in:\n%s", out.String())
	}
	t.Log("\n" + out.String())
}
