package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
)

// A log whose last sequences hold no message (the last event purged by
// subject) once kept a restarted projection from ever becoming ready: the
// gateway answered "catching up" 503 forever. The projection now moves
// over sequences the log lacks, and only over those.
func TestRunMovesOverAPurgedEnd(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	appendConfigMaps(t, log, 3)
	last := events.Ref{Resource: "configmaps", Namespace: "default", Name: "cm2"}
	if err := log.Stream().Purge(t.Context(), jetstream.WithPurgeSubject(last.Subject())); err != nil {
		t.Fatal(err)
	}
	p := projections.New(projections.Options{})
	go p.Run(t.Context(), log, nil)
	select {
	case <-p.Ready():
	case <-time.After(5 * time.Second):
		t.Fatalf("not ready 5s after start, applied %d of a log ending at 3 (3 purged)", p.Seq())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, 3); err != nil {
		t.Fatalf("WaitFor(3): %v", err)
	}
	if _, ok := p.Get(last); ok {
		t.Fatal("the purged event was folded")
	}
	if objs, _ := p.List("", "configmaps", "default"); len(objs) != 2 {
		t.Fatalf("%d configmaps, want 2", len(objs))
	}

	// A sequence the log has not reached is still waited for, not skipped.
	ctx, cancel = context.WithTimeout(t.Context(), 3*gapCheck)
	defer cancel()
	if err := p.WaitFor(ctx, 5); err == nil || p.Seq() != 3 {
		t.Fatalf("WaitFor(5) on a log ending at 3: %v, applied %d", err, p.Seq())
	}
	ev := events.Event{
		ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test", Time: time.Now(),
		Ref:        events.Ref{Resource: "configmaps", Namespace: "default", Name: "later"},
		APIVersion: "v1", Kind: "ConfigMap", Actor: "tester", RequestID: "r",
		Data: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"later","namespace":"default"}}`),
	}
	if _, err := log.Append(t.Context(), ev, 0); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, 4); err != nil {
		t.Fatalf("WaitFor(4) after an append: %v", err)
	}
}

const gapCheck = 200 * time.Millisecond
