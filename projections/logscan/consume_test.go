package logscan

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
)

// On a cluster a consumer just created may not answer for a moment: its
// first pull request then meets no responders (nats.go returns
// ErrNoResponders for the server's 503). The read asks again instead of
// failing. Here the consumer is made unreachable by deleting it as soon as
// it exists, and made again with the same configuration 150 ms later.
func TestConsumeAsksAgainWhileTheConsumerIsUnreachable(t *testing.T) {
	_, nc := natstest.Start(t)
	ctx := t.Context()
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		ev := events.Event{ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test",
			Ref:        events.Ref{Resource: "configmaps", Namespace: "default", Name: fmt.Sprint("cm-", i)},
			APIVersion: "v1", Kind: "ConfigMap", Actor: "tester", RequestID: "r",
			Data: fmt.Appendf(nil, `{"metadata":{"name":"cm-%d","namespace":"default"}}`, i)}
		if _, err := log.Append(ctx, ev, 0); err != nil {
			t.Fatal(err)
		}
	}
	back := make(chan error, 1)
	consumerCreated = func(c jetstream.Consumer) {
		cfg := c.CachedInfo().Config
		if err := log.Stream().DeleteConsumer(ctx, cfg.Name); err != nil {
			t.Errorf("delete the consumer: %v", err)
		}
		go func() {
			time.Sleep(150 * time.Millisecond)
			_, err := log.Stream().CreateConsumer(context.Background(), cfg)
			back <- err
		}()
	}
	defer func() { consumerCreated = nil }()

	got := 0
	err = Consume(ctx, log, "", 1, n, false, func(Msg) error { got++; return nil })
	if err != nil || got != n {
		t.Fatalf("Consume while the consumer was away for 150 ms: %d of %d events, %v", got, n, err)
	}
	if err := <-back; err != nil {
		t.Fatalf("recreate the consumer: %v", err)
	}
}
