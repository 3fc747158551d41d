package projections_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
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
