package quarantine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/quarantine"
)

type runFunc func(context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

func run(t *testing.T, r interface{ Run(context.Context) error }) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// One Warning Event per quarantined message, about the object its subject
// names, written once: a second service (a restart, a new leader) writes
// nothing more.
func TestWarningEventOncePerPoison(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	p := projections.New(projections.Options{})
	defer run(t, runFunc(func(ctx context.Context) error { return p.Run(ctx, log, nil) }))()
	<-p.Ready()
	ack, err := log.JetStream().PublishMsg(t.Context(), &nats.Msg{Subject: "wake.obj.core.configmaps.default.garbage", Data: []byte("not an event")})
	if err != nil {
		t.Fatal(err)
	}
	ref := events.Ref{Resource: "events", Namespace: "default", Name: quarantine.EventName(ack.Sequence)}
	stop := run(t, quarantine.New(log, p))
	var o *projections.Object
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var ok bool
		if o, ok = p.Get(ref); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 5s", ref)
		}
	}
	stop()
	var ev corev1.Event
	if err := json.Unmarshal(o.Raw, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != corev1.EventTypeWarning || ev.Reason != quarantine.Reason || ev.InvolvedObject.Kind != "ConfigMap" || ev.InvolvedObject.Name != "garbage" {
		t.Errorf("event %+v", ev)
	}
	last, _ := log.LastSeq(t.Context())
	defer run(t, quarantine.New(log, p))()
	time.Sleep(200 * time.Millisecond)
	if again, _ := log.LastSeq(t.Context()); again != last {
		t.Errorf("a second service wrote %d more events", again-last)
	}
	if n := len(p.Quarantined()); n != 1 {
		t.Errorf("quarantined %d, want 1", n)
	}
}
