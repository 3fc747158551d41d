package reconciletest

import (
	"context"
	"testing"
)

// Go runs each of runs (a projection's or a loop's Run) with ctx for an
// integration test; when the test ends it calls cancel (ctx's) and waits
// for every one of them to return.
func Go(t testing.TB, ctx context.Context, cancel context.CancelFunc, runs ...func(context.Context) error) {
	done := make(chan struct{}, len(runs))
	for _, run := range runs {
		go func() { run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range runs {
			<-done
		}
	})
}
