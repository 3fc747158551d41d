package libct

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
// OCI spec (seccomp profile included), with a fresh overlay rootfs per
// container as the runtime makes. Skipped when runc is not installed; the
// test suite never needs it.
func BenchmarkRuncCLI(b *testing.B) { benchCLI(b, "runc", nil) }

// BenchmarkCrunCLI is BenchmarkRuncCLI with Debian's crun. crun 1.8
// refuses a cgroup v1 machine whose cgroup2 mount has controllers (hybrid,
// as this one): there the benchmark runs crun from a thread with a mount
// namespace of its own without that mount, so crun sees plain cgroup v1
// and makes the same cgroups as the others.
func BenchmarkCrunCLI(b *testing.B) {
	const unified = "/sys/fs/cgroup/unified"
	ctrls, err := os.ReadFile(unified + "/cgroup.controllers")
	if err != nil || len(bytes.TrimSpace(ctrls)) == 0 {
		benchCLI(b, "crun", nil)
		return
	}
	benchCLI(b, "crun", func() error {
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			return err
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			return err
		}
		return unix.Unmount(unified, unix.MNT_DETACH)
	})
}

// benchCLI runs `tool run` b.N times; setup, when set, prepares the
// locked OS thread the containers are then created from (that thread ends
// with the benchmark).
func benchCLI(b *testing.B, tool string, setup func() error) {
	bin, err := exec.LookPath(tool)
	if err != nil {
		b.Skipf("%s is not installed (apt-get install %s) — nothing to compare with", tool, tool)
	}
	_, layers := pulledImage(b)
	sb := newSandbox(b, b.TempDir(), "bench-"+tool)
	root, work := b.TempDir(), b.TempDir()
	log, err := os.OpenFile(filepath.Join(b.TempDir(), tool+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	var lat []time.Duration
	one := func(i int) error {
		id := fmt.Sprintf("%s-%d", tool, i)
		spec := specFor(b, sb, layers, id, "true")
		start := time.Now()
		bundle := filepath.Join(work, id)
		if err := os.Mkdir(bundle, 0o700); err != nil {
			return err
		}
		rootfs, err := mountRootfs(bundle, spec.Layers)
		if err != nil {
			return err
		}
		oci, err := ociSpec(&spec, rootfs)
		if err != nil {
			return err
		}
		oci.Process.Rlimits = nil // runc 1.1 cannot raise RLIMIT_NOFILE past the caller's
		oci.Version = "1.0.2"     // crun 1.8 refuses later versions; nothing newer is used
		cfg, _ := json.Marshal(oci)
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), cfg, 0o600); err != nil {
			return err
		}
		cmd := exec.Command(bin, "--root", root, "run", "--bundle", bundle, id)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			removeRootfs(bundle)
			logged, _ := os.ReadFile(log.Name())
			return fmt.Errorf("%s run: %v: %s", tool, err, logged)
		}
		if err := removeRootfs(bundle); err != nil {
			return err
		}
		lat = append(lat, time.Since(start))
		return nil
	}
	errc := make(chan error, 1)
	b.ResetTimer()
	go func() {
		goruntime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if setup != nil {
			if err := setup(); err != nil {
				errc <- fmt.Errorf("setup: %w", err)
				return
			}
		}
		for i := range b.N {
			if err := one(i); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		b.Fatal(err)
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
