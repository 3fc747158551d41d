package libct

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// BenchmarkCreateStartWait is one container's whole life through the
// runtime: overlay rootfs, libcontainer create, start, wait for `tool true`
// to exit, delete. Run with:
//
//	go test -run '^$' -bench . -benchtime 200x ./agent/runtime/libct/
func BenchmarkCreateStartWait(b *testing.B) {
	_, layers := pulledImage(b)
	r, err := New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	sb := newSandbox(b, b.TempDir(), "bench")
	logs := b.TempDir()
	var lat []time.Duration
	var phases [5]time.Duration
	b.ResetTimer()
	for i := range b.N {
		spec := specFor(b, sb, layers, fmt.Sprintf("bench-%d", i), "true")
		spec.LogPath = filepath.Join(logs, "bench.log")
		start := time.Now()
		t0 := start
		lap := func(i int) { phases[i] += time.Since(t0); t0 = time.Now() }
		if err := r.Create(b.Context(), spec); err != nil {
			b.Fatal(err)
		}
		lap(0)
		if err := r.Start(b.Context(), spec.ID); err != nil {
			b.Fatal(err)
		}
		lap(1)
		if exit, err := r.Wait(b.Context(), spec.ID); err != nil || exit.Code != 0 {
			b.Fatalf("%+v, %v", exit, err)
		}
		lap(2)
		if err := r.Delete(b.Context(), spec.ID); err != nil {
			b.Fatal(err)
		}
		lap(3)
		lat = append(lat, time.Since(start))
		phases[4] += time.Since(start)
	}
	reportPercentiles(b, lat)
	if os.Getenv("WAKE_BENCH_PHASES") != "" {
		b.Logf("create %v start %v wait %v delete %v total %v (sum)", phases[0], phases[1], phases[2], phases[3], phases[4])
	}
}

// BenchmarkRuncCLI does the same with Debian's runc binary (`runc run`
// creates, starts, waits and deletes) on the same image layers, sandbox and
// OCI spec, with a fresh overlay rootfs per container as the runtime makes.
// Skipped when runc is not installed; the test suite never needs it.
func BenchmarkRuncCLI(b *testing.B) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		b.Skip("runc is not installed (apt-get install runc) — nothing to compare with")
	}
	_, layers := pulledImage(b)
	sb := newSandbox(b, b.TempDir(), "bench-runc")
	root, work := b.TempDir(), b.TempDir()
	log, err := os.OpenFile(filepath.Join(b.TempDir(), "runc.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("runc-%d", i)
		spec := specFor(b, sb, layers, id, "true")
		start := time.Now()
		bundle := filepath.Join(work, id)
		if err := os.Mkdir(bundle, 0o700); err != nil {
			b.Fatal(err)
		}
		rootfs, err := mountRootfs(bundle, spec.Layers)
		if err != nil {
			b.Fatal(err)
		}
		oci := ociSpec(&spec, rootfs)
		oci.Process.Rlimits = nil // runc 1.1 cannot raise RLIMIT_NOFILE past the caller's
		cfg, _ := json.Marshal(oci)
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), cfg, 0o600); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(runc, "--root", root, "run", "--bundle", bundle, id)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			removeRootfs(bundle)
			logged, _ := os.ReadFile(log.Name())
			b.Fatalf("runc run: %v: %s", err, logged)
		}
		if err := removeRootfs(bundle); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
