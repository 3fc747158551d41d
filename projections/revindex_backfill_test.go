package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
)

// After a restart from a snapshot, the revision index is extended back to
// the start of the log in the background: time travel before the snapshot
// then answers from the index, exactly as a projection that folded the
// whole log does.
func TestRunBackfillsTheRevisionIndex(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := projections.OpenSnapshots(t.Context(), log.JetStream(), 1, true)
	if err != nil {
		t.Fatal(err)
	}
	put := func(typ events.Type, name string, expect uint64) uint64 {
		t.Helper()
		ev := events.Event{
			ID: events.NewID(), Type: typ, Source: "wake/test", Time: time.Now(),
			Ref:        events.Ref{Resource: "configmaps", Namespace: "default", Name: name},
			APIVersion: "v1", Kind: "ConfigMap", Actor: "tester", RequestID: "r",
			Data: []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":"default"},"data":{"n":"%d"}}`, name, expect)),
		}
		if typ == events.ObjectUpdated {
			ev.Change = events.ChangeSpec
		}
		seq, err := log.Append(t.Context(), ev, expect)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	seqs := map[string]uint64{}
	for i := range 10 {
		name := fmt.Sprintf("cm%d", i)
		seqs[name] = put(events.ObjectCreated, name, 0)
	}
	put(events.ObjectDeleted, "cm3", seqs["cm3"])
	seqs["cm5"] = put(events.ObjectUpdated, "cm5", seqs["cm5"])
	snapAt := seqs["cm5"]

	// The first run leaves a snapshot at snapAt.
	p1 := projections.New(projections.Options{SnapshotInterval: 20 * time.Millisecond})
	ctx1, stop1 := context.WithCancel(t.Context())
	done1 := make(chan error, 1)
	go func() { done1 <- p1.Run(ctx1, log, snaps) }()
	waitTrue(t, "a snapshot at the last event", func() bool {
		st, err := snaps.Load(t.Context())
		return err == nil && st.Seq() == snapAt
	})
	stop1()
	<-done1
	put(events.ObjectCreated, "cm10", 0)
	last := put(events.ObjectUpdated, "cm0", seqs["cm0"])

	full := projections.New(projections.Options{})
	restored := projections.New(projections.Options{})
	for _, p := range []*projections.Projection{full, restored} {
		go p.Run(t.Context(), log, map[*projections.Projection]*projections.Snapshots{restored: snaps}[p])
		if err := p.WaitFor(t.Context(), last); err != nil {
			t.Fatal(err)
		}
	}
	waitTrue(t, "the index to reach event 1", func() bool {
		_, ok := restored.AtIndex("", "configmaps", "default", 1)
		return ok
	})
	show := func(revs []projections.Revision) string {
		s := ""
		for _, r := range revs {
			s += fmt.Sprintf("%s@%d ", r.Ref.Name, r.Seq)
		}
		return s
	}
	for at := uint64(1); at <= last; at++ {
		want, ok1 := full.AtIndex("", "configmaps", "default", at)
		got, ok2 := restored.AtIndex("", "configmaps", "default", at)
		if !ok1 || !ok2 || show(got) != show(want) {
			t.Errorf("at %d: restored %q (%v), full fold %q (%v)", at, show(got), ok2, show(want), ok1)
		}
	}
}

func waitTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
