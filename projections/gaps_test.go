package projections_test

import (
	"context"
	"errors"
	"fmt"
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
	appendConfigMaps(t, log, 2)
	// The log denies purges and deletions; a last event written with a
	// TTL (which an operator with JetStream's API could allow) leaves the
	// same hole at the end when it expires.
	last := events.Ref{Resource: "configmaps", Namespace: "default", Name: "cm2"}
	appendExpiring(t, log, last)
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

// appendExpiring creates ref with a TTL of a second (the stream is
// allowed message TTLs first) and waits until it expired: the log's last
// sequence then holds no message.
func appendExpiring(t *testing.T, log *events.Log, ref events.Ref) {
	t.Helper()
	info, err := log.Stream().Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.AllowMsgTTL = true
	if _, err := log.JetStream().UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	ev := events.Event{
		ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test", Time: time.Now(), Ref: ref,
		APIVersion: "v1", Kind: "ConfigMap", Actor: "tester", RequestID: "r",
		Data: []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":%q}}`, ref.Name, ref.Namespace)),
	}
	msg, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	msg.Header.Set("Nats-TTL", "1s")
	ack, err := log.JetStream().PublishMsg(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := log.Stream().GetMsg(t.Context(), ack.Sequence); errors.Is(err, jetstream.ErrMsgNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the event with a TTL did not expire")
		}
	}
}
