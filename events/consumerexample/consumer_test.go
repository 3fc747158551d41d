package consumerexample_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/consumerexample"
	"github.com/wakehq/wake/events/natstest"
)

func appendCM(t *testing.T, log *events.Log, name string, n int) {
	t.Helper()
	for i := range n {
		ev := events.Event{
			ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test",
			Ref:        events.Ref{Resource: "configmaps", Namespace: "default", Name: fmt.Sprintf("%s-%d", name, i)},
			APIVersion: "v1", Kind: "ConfigMap", Actor: "test", RequestID: "r", Data: []byte(`{}`),
		}
		if _, err := log.Append(t.Context(), ev, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// A consumer that stops mid-way (handle fails, or the process and the
// server restart) resumes after the last acknowledged event: every event
// is handled, in order, and none twice except the one that failed.
func TestResumeAfterRestart(t *testing.T) {
	opts := natstest.Options(t)
	s, nc := natstest.StartWith(t, opts)
	log, err := events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	appendCM(t, log, "a", 5)
	var got []uint64
	errStop := errors.New("crash")
	c, err := consumerexample.Open(t.Context(), log.JetStream(), "it", events.FilterSubject("", "configmaps", ""))
	if err != nil {
		t.Fatal(err)
	}
	err = consumerexample.Consume(t.Context(), c, func(ev events.Event) error {
		if ev.Seq == 4 {
			return errStop // not acknowledged: comes again
		}
		got = append(got, ev.Seq)
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Consume = %v", err)
	}
	// The failed event comes again at once (it was nak'ed); stop cleanly
	// after 5. (A process that dies without a nak gets it again after
	// AckWait, which also holds for events pending across a server restart.)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = consumerexample.Consume(ctx, c, func(ev events.Event) error {
		got = append(got, ev.Seq)
		if ev.Seq == 5 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Restart the server on the same store; more events arrive meanwhile.
	nc.Close()
	s.Shutdown()
	s.WaitForShutdown()
	_, nc = natstest.StartWith(t, opts)
	log, err = events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	appendCM(t, log, "b", 3)
	c, err = consumerexample.Open(t.Context(), log.JetStream(), "it", events.FilterSubject("", "configmaps", ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = consumerexample.Consume(ctx, c, func(ev events.Event) error {
		got = append(got, ev.Seq)
		if ev.Seq == 8 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("handled %v, want %v", got, want)
	}
}

// A message that is not an event is skipped (acknowledged), not a stop:
// the consumer goes on to the events after it.
func TestSkipsPoison(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	appendCM(t, log, "a", 1)
	if _, err := log.JetStream().PublishMsg(t.Context(), &nats.Msg{Subject: "wake.obj.core.configmaps.default.garbage", Data: []byte("not an event")}); err != nil {
		t.Fatal(err)
	}
	appendCM(t, log, "b", 1)
	c, err := consumerexample.Open(t.Context(), log.JetStream(), "poisoned", events.FilterSubject("", "configmaps", ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got []uint64
	err = consumerexample.Consume(ctx, c, func(ev events.Event) error {
		if got = append(got, ev.Seq); ev.Seq == 3 {
			cancel()
		}
		return nil
	})
	if err != nil || fmt.Sprint(got) != "[1 3]" {
		t.Fatalf("Consume = %v, handled %v, want [1 3]", err, got)
	}
}
