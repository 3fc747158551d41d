package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// countingHandler counts the records logged after armed is set.
type countingHandler struct {
	armed *atomic.Bool
	n     *atomic.Int64
	mu    sync.Mutex
	last  string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if h.armed.Load() {
		h.n.Add(1)
		h.mu.Lock()
		h.last = r.Message
		h.mu.Unlock()
	}
	return nil
}

// loopFrames match a goroutine running the loop's own code.
var loopFrames = regexp.MustCompile(`wake/services/reconcile\.`)

// loopGoroutines counts goroutines with a frame of package reconcile.
func loopGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if loopFrames.MatchString(g) {
			n++
		}
	}
	return n
}

// The shutdown bug seen after a load of 1,000 nodes: a loop with a full
// queue of slow, failing keys went on reconciling (and logging "retrying …
// context canceled") long after its context ended, because it preferred
// queued keys to its context and every failure came back a second later.
// Cancelled, Run must return at once, log no retry storm, and leave none
// of its goroutines behind.
func TestLoopStopsPromptlyWithAFullQueueOfFailingKeys(t *testing.T) {
	ctx, _, log, view := runningView(t)

	const keys = 1000
	var armed atomic.Bool
	var logged, calls atomic.Int64
	h := &countingHandler{armed: &armed, n: &logged}
	loopCtx, stop := context.WithCancel(ctx)
	loop := &reconcile.Loop{
		Name: "system:controller:failing", Log: log, View: view, Logger: slog.New(h),
		Reconcile: func(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
			calls.Add(1)
			time.Sleep(2 * time.Millisecond) // a reconcile that reads every node
			return nil, errors.New("the log is unreachable")
		},
		Keys: func(projections.Change) []events.Ref { return nil },
		Sources: []func(context.Context, func(events.Ref)) error{func(ctx context.Context, enqueue func(events.Ref)) error {
			for i := range keys {
				enqueue(events.Ref{Resource: "nodes", Name: fmt.Sprintf("fake-%05d", i)})
			}
			<-ctx.Done()
			return nil
		}},
	}
	before := loopGoroutines()
	done := make(chan error, 1)
	go func() { done <- loop.Run(loopCtx) }()
	for deadline := time.Now().Add(5 * time.Second); calls.Load() < 50; {
		if time.Now().After(deadline) {
			t.Fatalf("%d reconciles in 5s", calls.Load())
		}
		time.Sleep(time.Millisecond)
	}
	armed.Store(true)
	stop()
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("Run still running 3s after its context ended (%d reconciles, %d records logged since, the last %q)", calls.Load(), logged.Load(), h.last)
	}
	t.Logf("Run returned %s after cancel; %d reconciles in all", time.Since(start), calls.Load())
	if n := logged.Load(); n > 1 { // one reconcile may have been deciding when ctx ended
		t.Errorf("%d records logged after cancel (the last %q), want at most 1", n, h.last)
	}
	if n := loopGoroutines(); n > before {
		t.Errorf("%d goroutines of the loop still running after Run returned, %d before it started", n, before)
	}
}

// A failing key is retried with growing delays; a terminal error is not
// retried; a success resets the backoff.
func TestLoopBacksOffAndDropsTerminalErrors(t *testing.T) {
	ctx, cancel, log, view := runningView(t)

	retried := events.Ref{Resource: "nodes", Name: "retried"}
	terminal := events.Ref{Resource: "nodes", Name: "terminal"}
	var mu sync.Mutex
	at := map[string][]time.Time{}
	loop := &reconcile.Loop{
		Name: "system:controller:failing", Log: log, View: view, Logger: slog.New(slog.DiscardHandler),
		Reconcile: func(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
			mu.Lock()
			defer mu.Unlock()
			at[key.Name] = append(at[key.Name], time.Now())
			if key == terminal {
				return nil, reconcile.TerminalError(errors.New("the object does not decode"))
			}
			if len(at[key.Name]) >= 4 {
				return nil, nil
			}
			return nil, errors.New("not yet")
		},
		Keys: func(projections.Change) []events.Ref { return nil },
		Sources: []func(context.Context, func(events.Ref)) error{func(ctx context.Context, enqueue func(events.Ref)) error {
			enqueue(retried)
			enqueue(terminal)
			<-ctx.Done()
			return nil
		}},
	}
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()
	time.Sleep(time.Second) // 50+100+200 ms of backoff, then success
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(at[terminal.Name]); n != 1 {
		t.Errorf("terminal key reconciled %d times, want 1", n)
	}
	tries := at[retried.Name]
	if len(tries) != 4 {
		t.Fatalf("failing key reconciled %d times, want 4 (3 failures, then success)", len(tries))
	}
	for i := 2; i < len(tries); i++ {
		if gap, prev := tries[i].Sub(tries[i-1]), tries[i-1].Sub(tries[i-2]); gap < prev*3/2 {
			t.Errorf("retry %d after %s, the one before after %s: want the delay to double", i, gap, prev)
		}
	}
}

// An object that does not decode will not decode on a retry either.
func TestDecodeErrorsAreTerminal(t *testing.T) {
	var m map[string]any
	err := reconcile.DecodeInto(&projections.Object{Ref: events.Ref{Resource: "nodes", Name: "n"}, Raw: []byte("{")}, &m)
	if err == nil || !reconcile.IsTerminal(fmt.Errorf("reconcile: %w", err)) {
		t.Fatalf("DecodeInto of bad bytes: %v, terminal %v", err, reconcile.IsTerminal(err))
	}
	if reconcile.IsTerminal(errors.New("the log is unreachable")) || reconcile.TerminalError(nil) != nil {
		t.Fatal("only errors marked terminal are")
	}
}
