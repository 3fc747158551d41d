// Package natsserve runs the agent's request servers on NATS (logs, exec,
// images): each request with a reply subject is served on its own
// goroutine until ctx ends.
package natsserve

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"
)

// Serve subscribes to subject and calls handle for every request that
// carries a reply subject, each on its own goroutine, until ctx ends; it
// then unsubscribes, takes no new request, and waits for the handlers (which
// should end with ctx) before it returns.
func Serve(ctx context.Context, nc *nats.Conn, subject string, handle func(context.Context, *nats.Msg)) error {
	var (
		mu      sync.Mutex
		stopped bool
		wg      sync.WaitGroup
	)
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if stopped || m.Reply == "" {
			return
		}
		wg.Go(func() { handle(ctx, m) })
	})
	if err != nil {
		return err
	}
	<-ctx.Done()
	sub.Unsubscribe()
	mu.Lock()
	stopped = true
	mu.Unlock()
	wg.Wait()
	return nil
}
