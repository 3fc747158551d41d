package history_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/history"
)

// BenchmarkReplay folds a log of 1,000,000 events (10,000 ConfigMaps of
// about 400 bytes, each updated about 100 times; file storage, no fsync,
// in-process connection as `wake up` uses) into a fresh state, and then
// restarts from a snapshot taken 10,000 events before the end (the
// projection snapshots every 10,000). Targets: at least 200,000 events/s;
// restart under 2 s. The log is generated once per run (about a minute);
// WAKE_REPLAY_EVENTS sets another size, and WAKE_REPLAY_STORE names a
// store directory that keeps the log between runs (generated on the first,
// reused when it holds that many events), so that a profile
// (-cpuprofile) shows the replay rather than the generation. Figures move
// by ±10% from run to run on a shared 2-core machine: compare variants in
// alternation, several runs each (benchstat).
//
//	go test ./projections/history -run '^$' -bench Replay -benchtime 3x
func BenchmarkReplay(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("WAKE_REPLAY_EVENTS")); err == nil && v > 0 {
		n = v
	}
	opts := natstest.Options(b)
	if dir := os.Getenv("WAKE_REPLAY_STORE"); dir != "" {
		opts.StoreDir = dir
	}
	_, nc := natstest.StartWith(b, opts)
	ctx := context.Background()
	log, err := events.Open(ctx, nc, events.Config{})
	if err != nil {
		b.Fatal(err)
	}
	last, err := log.LastSeq(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if last != uint64(n) {
		if last != 0 {
			b.Fatalf("the store holds %d events, not %d: remove it or set WAKE_REPLAY_EVENTS", last, n)
		}
		t0 := time.Now()
		last = fillLog(b, log, n, 10_000)
		b.Logf("generated %d events in %v", n, time.Since(t0).Round(time.Millisecond))
	}

	b.Run("full", func(b *testing.B) {
		cpu0 := cpuTime()
		for b.Loop() {
			st, skipped, err := history.Replay(ctx, log, projections.NewState(), last)
			if err != nil || skipped != 0 || st.Seq() != last {
				b.Fatalf("%v, %d skipped, at %d", err, skipped, st.Seq())
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		// On a shared machine the CPU time (of every goroutine, the
		// in-process server's included) moves less than the wall time:
		// 2 cores at this many events per CPU second give twice as many
		// events per second.
		b.ReportMetric(float64(n)*float64(b.N)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
	})
	b.Run("from-snapshot", func(b *testing.B) {
		at := last - min(last-1, 10_000)
		st, _, err := history.Replay(ctx, log, projections.NewState(), at)
		if err != nil {
			b.Fatal(err)
		}
		snaps, err := projections.OpenSnapshots(ctx, log.JetStream(), 1, false)
		if err != nil {
			b.Fatal(err)
		}
		var objs []*projections.Object
		for _, k := range kinds.All() {
			objs = append(objs, st.List(k.Group, k.Resource, "")...)
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i].Ref.Subject() < objs[j].Ref.Subject() })
		if err := snaps.Save(ctx, at, objs, st.Quarantined()); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			base, err := snaps.Load(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if st, _, err = history.Replay(ctx, log, base, last); err != nil || st.Seq() != last {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/restart")
	})
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fillLog appends n events over objects ConfigMaps (created, then
// updated in turn) in batches, and returns the last sequence.
func fillLog(b *testing.B, log *events.Log, n, objects int) uint64 {
	seqs := make([]uint64, objects)
	var last uint64
	for lo := 0; lo < n; lo += 1000 {
		var ps []events.Pending
		var idx []int
		for i := lo; i < min(lo+1000, n); i++ {
			o := i % objects
			name := fmt.Sprintf("cm-%05d", o)
			ns := fmt.Sprintf("ns-%d", o%10)
			data, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": name, "namespace": ns, "uid": "uid-" + name, "labels": map[string]any{"app": "replay"}},
				"data":     map[string]any{"counter": strconv.Itoa(i), "payload": fmt.Sprintf("%0200d", i)}})
			typ, change := events.ObjectUpdated, events.ChangeSpec
			if i < objects {
				typ, change = events.ObjectCreated, ""
			}
			ps = append(ps, events.Pending{Expect: seqs[o], Event: events.Event{ID: events.NewID(), Type: typ, Change: change,
				Source: "wake/bench", Ref: events.Ref{Resource: "configmaps", Namespace: ns, Name: name},
				APIVersion: "v1", Kind: "ConfigMap", Actor: "bench", RequestID: "r", Data: data}})
			idx = append(idx, o)
		}
		for j, r := range log.AppendBatch(context.Background(), ps) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
			seqs[idx[j]], last = r.Seq, max(last, r.Seq)
		}
	}
	return last
}
