package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBenchQuick runs every phase of `wake bench` with tiny numbers against
// a freshly built wake binary, so the command cannot rot. It checks that each
// figure is measured, not that targets are met: that depends on the machine.
func TestBenchQuick(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "wake")
	build := exec.Command("go", "build", "-o", exe, "github.com/wakehq/wake/cmd/wake")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	o := defaultBenchOptions()
	o.quick()
	o.creates, o.updates, o.listPods, o.lists, o.pods, o.events = 20, 20, 60, 3, 120, 600
	o.workers, o.patchers = 8, 8
	o.exe = exe
	var out syncBuffer
	o.out = &out

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	figs, err := bench(ctx, o)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	got := map[string]figure{}
	for _, f := range figs {
		got[strings.SplitN(f.name, " (", 2)[0]] = f
	}
	for _, name := range []string{"RSS idle", "create latency", "update-to-watch", "update latency",
		"LIST 60 pods, client-go", "LIST 60 pods, as Table, like kubectl", "RSS holding 120 pods",
		"log filled", "restart to serving"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no figure %q in:\n%s", name, out.String())
		}
	}
	if f := got["RSS idle"]; f.verdict == "" {
		t.Errorf("RSS idle has no verdict: %+v", f)
	}
	if f := got["restart to serving"]; !strings.Contains(f.value, "snapshot at seq") {
		t.Errorf("the restart restored no snapshot: %+v\n%s", f, out.String())
	}
	if f := got["log filled"]; !(atoi(strings.Fields(f.value)[0]) >= o.events) {
		t.Errorf("log filled to %q, want at least %d events", f.value, o.events)
	}
	if m := regexp.MustCompile(`--data (\S+)`).FindStringSubmatch(out.String()); m == nil {
		t.Error("bench did not say where its data directory is")
	} else if _, err := os.Stat(m[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data directory %s was not removed: %v", m[1], err)
	}
	t.Log("\n" + out.String())
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
