package consumerexample_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/consumerexample"
	"github.com/wakehq/wake/events/embedded"
)

// Follow the Deployments of the log with a durable consumer, then stop.
// Against a running wake, connect with nats.Connect("nats://127.0.0.1:4222")
// instead of starting a server.
func Example() {
	dir, _ := os.MkdirTemp("", "wake-example")
	defer os.RemoveAll(dir)
	srv, _ := embedded.Start(embedded.Options{Dir: dir, NoSync: true})
	defer srv.Shutdown()
	nc, _ := embedded.Connect(srv, "example")
	defer nc.Close()
	ctx := context.Background()
	log, _ := events.Open(ctx, nc, events.Config{})
	for _, name := range []string{"web", "api"} {
		ev := events.Event{
			ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/example",
			Ref:        events.Ref{Group: "apps", Resource: "deployments", Namespace: "default", Name: name},
			APIVersion: "apps/v1", Kind: "Deployment", Actor: "admin", RequestID: "example",
			Data: []byte(`{"spec":{"replicas":1}}`),
		}
		if _, err := log.Append(ctx, ev, 0); err != nil {
			fmt.Println(err)
		}
	}

	c, err := consumerexample.Open(ctx, log.JetStream(), "my-integration", events.FilterSubject("apps", "deployments", ""))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(ctx)
	seen := 0
	err = consumerexample.Consume(ctx, c, func(ev events.Event) error {
		fmt.Println(ev.Seq, ev.Type, ev.Ref)
		if seen++; seen == 2 {
			stop() // a real integration runs until it is told to stop
		}
		return nil
	})
	fmt.Println("stopped:", err, errors.Is(err, context.Canceled))
	// Output:
	// 1 io.wake.object.created.v1 deployments.apps/default/web
	// 2 io.wake.object.created.v1 deployments.apps/default/api
	// stopped: <nil> false
}
