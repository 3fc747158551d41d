package projections_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/logscan"
)

func appendConfigMaps(t *testing.T, log *events.Log, n int) {
	t.Helper()
	for i := range n {
		name := fmt.Sprintf("cm%d", i)
		ev := events.Event{
			ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test", Time: time.Now(),
			Ref:        events.Ref{Resource: "configmaps", Namespace: "default", Name: name},
			APIVersion: "v1", Kind: "ConfigMap", Actor: "tester", RequestID: "r",
			Data: []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":"default"}}`, name)),
		}
		if _, err := log.Append(t.Context(), ev, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// A state can only be rebuilt from a snapshot plus every event after it:
// when retention has dropped some of those, the projection refuses to serve
// rather than fold what is left into a wrong state.
func TestRunRefusesAGapAfterTheSnapshot(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	appendConfigMaps(t, log, 5)
	cfg := log.Stream().CachedInfo().Config
	cfg.MaxMsgs = 2
	if _, err := log.JetStream().UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	err = projections.New(projections.Options{}).Run(t.Context(), log, nil)
	if err == nil || !strings.Contains(err.Error(), "dropped by retention") {
		t.Fatalf("Run over a log missing events 1-3: %v", err)
	}
}

// A quiet log still gets snapshots on a timer.
func TestRunSnapshotsOnATimer(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := projections.OpenSnapshots(t.Context(), log.JetStream(), 1, true)
	if err != nil {
		t.Fatal(err)
	}
	p := projections.New(projections.Options{SnapshotInterval: 50 * time.Millisecond})
	go p.Run(t.Context(), log, snaps)
	appendConfigMaps(t, log, 3)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := snaps.Load(t.Context())
		if err == nil && st.Seq() == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot at 3 after 5s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The catch-up at start (decoded and built in parallel, read in chunks
// over two connections) folds to the same state as applying the log event
// by event.
func TestRunCatchUpMatchesFold(t *testing.T) {
	defer logscan.Chunking(50, 100)()
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	appendConfigMaps(t, log, 700)
	want := projections.NewState()
	last, _ := log.LastSeq(t.Context())
	err = log.Read(t.Context(), 1, "", func(ev events.Event) error {
		want.Apply(ev)
		if ev.Seq == last {
			return errDone
		}
		return nil
	})
	if err != nil && err != errDone {
		t.Fatal(err)
	}
	p := projections.New(projections.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, log, nil) }()
	select {
	case <-p.Ready():
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("not ready in 20s")
	}
	if seq, h := p.Hash(); seq != last || h != want.Hash() {
		t.Errorf("caught up to %d with hash %s, want %d %s", seq, h, last, want.Hash())
	}
	// It goes on following the log.
	extra := events.Event{ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test", Time: time.Now(),
		Ref: events.Ref{Resource: "configmaps", Namespace: "default", Name: "extra"}, APIVersion: "v1", Kind: "ConfigMap",
		Actor: "tester", RequestID: "r", Data: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"extra","namespace":"default"}}`)}
	if _, err := log.Append(t.Context(), extra, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitFor(t.Context(), last+1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

var errDone = errors.New("done")
