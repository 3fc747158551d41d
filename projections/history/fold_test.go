package history

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"testing"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/logscan"
)

// Replay read in parallel chunks, in one pipelined read, and folded event
// by event with State.Apply all give the same state.
func TestReplayPipelinesAgree(t *testing.T) {
	defer logscan.Chunking(1<<20, 1<<20)()
	_, nc := natstest.Start(t)
	ctx := t.Context()
	log, err := events.Open(ctx, nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[string]uint64{}
	var last uint64
	for lo := 0; lo < 2997; lo += 37 { // each object once per batch
		var ps []events.Pending
		var names []string
		for i := lo; i < lo+37; i++ {
			name := fmt.Sprintf("cm-%d", i%37)
			typ, change := events.ObjectUpdated, events.ChangeSpec
			if seqs[name] == 0 {
				typ, change = events.ObjectCreated, ""
			}
			data, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": name, "namespace": "default", "labels": map[string]any{"i": fmt.Sprint(i % 5)}},
				"data":     map[string]any{"n": fmt.Sprint(i)}})
			ps = append(ps, events.Pending{Expect: seqs[name], Event: events.Event{ID: events.NewID(), Type: typ, Change: change,
				Source: "wake/test", Ref: events.Ref{Resource: "configmaps", Namespace: "default", Name: name},
				APIVersion: "v1", Kind: "ConfigMap", Actor: "t", RequestID: "r", Data: data}})
			names = append(names, name)
		}
		for j, r := range log.AppendBatch(context.Background(), ps) {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			seqs[names[j]], last = r.Seq, max(last, r.Seq)
		}
	}
	folded := func(to uint64) string {
		st := projections.NewState()
		if err := Scan(ctx, log, "", 1, to, func(ev events.Event) error { st.Apply(ev); return nil }); err != nil {
			t.Fatal(err)
		}
		return st.Hash()
	}
	replayed := func(base *projections.State, to uint64) string {
		st, skipped, err := Replay(ctx, log, base, to)
		if err != nil || skipped != 0 || st.Seq() != to {
			t.Fatalf("%v, %d skipped, at %d", err, skipped, st.Seq())
		}
		return st.Hash()
	}
	for _, to := range []uint64{last, last - 77, 1000} {
		want := folded(to)
		logscan.Chunking(1<<20, 1<<20)
		if got := replayed(projections.NewState(), to); got != want {
			t.Errorf("pipelined replay to %d: %s, want %s", to, got, want)
		}
		logscan.Chunking(100, 200)
		if got := replayed(projections.NewState(), to); got != want {
			t.Errorf("parallel replay to %d: %s, want %s", to, got, want)
		}
		// A long read paces the collector loosely while it runs
		// (logscan/gc.go) and must leave it as it found it.
		p := debug.SetGCPercent(100)
		debug.SetGCPercent(p)
		if p != 100 && os.Getenv("GOGC") == "" {
			t.Errorf("after a parallel replay GOGC = %d, want 100 again", p)
		}
		base, _, _ := Replay(ctx, log, projections.NewState(), 333)
		if got := replayed(base, to); got != want {
			t.Errorf("parallel replay from 333 to %d: %s, want %s", to, got, want)
		}
	}
}
