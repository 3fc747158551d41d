package reconcile

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wakehq/wake/events"
)

func ref(name string) events.Ref { return events.Ref{Resource: "nodes", Name: name} }

// next with a deadline: the key and when it came, or false.
func nextWithin(t *testing.T, q *queue, d time.Duration) (events.Ref, time.Duration, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	start := time.Now()
	k, ok := q.next(ctx)
	return k, time.Since(start), ok
}

func TestQueueAddAfterKeepsTheEarliestDueTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue()
		q.addAfter(ref("a"), 3*time.Second)
		q.addAfter(ref("b"), time.Second)
		q.addAfter(ref("a"), 2*time.Second) // sooner: wins
		q.addAfter(ref("b"), 5*time.Second) // later: the 1s stands
		for _, want := range []struct {
			name string
			at   time.Duration
		}{{"b", time.Second}, {"a", time.Second}} {
			k, took, ok := nextWithin(t, q, time.Minute)
			if !ok || k.Name != want.name || took != want.at {
				t.Fatalf("got %s after %s (%v), want %s after %s", k.Name, took, ok, want.name, want.at)
			}
			q.done(k)
		}
		if k, _, ok := nextWithin(t, q, time.Minute); ok {
			t.Fatalf("%s came back: superseded due times must not requeue", k.Name)
		}
	})
}

func TestQueueRetryBacksOffAndForgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue()
		k := ref("a")
		var delays []time.Duration
		for range 12 {
			d, _ := q.retry(k)
			got, took, ok := nextWithin(t, q, time.Hour)
			if !ok || got != k || took != d {
				t.Fatalf("retry after %s: got %v after %s", d, ok, took)
			}
			q.done(k)
			delays = append(delays, d)
		}
		want := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
			800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond,
			12800 * time.Millisecond, 25600 * time.Millisecond, maxRetry, maxRetry}
		for i := range want {
			if delays[i] != want[i] {
				t.Fatalf("delays %v, want %v", delays, want)
			}
		}
		q.forget(k)
		if d, n := q.retry(k); d != minRetry || n != 1 {
			t.Fatalf("after forget: retry %d after %s", n, d)
		}
	})
}

// A cancelled context ends next at once, though keys are queued.
func TestQueueNextEndsWithItsContext(t *testing.T) {
	q := newQueue()
	q.add(ref("a"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if k, ok := q.next(ctx); ok {
		t.Fatalf("next handed out %s after its context ended", k.Name)
	}
}

// A key added while it is being reconciled is handed out again once done,
// never to two workers at once.
func TestQueueHoldsAKeyAddedWhileActive(t *testing.T) {
	q := newQueue()
	q.add(ref("a"))
	k, _ := q.next(t.Context())
	q.add(k)
	if got, _, ok := nextWithin(t, q, 10*time.Millisecond); ok {
		t.Fatalf("%s handed out while active", got.Name)
	}
	q.done(k)
	if got, _, ok := nextWithin(t, q, time.Second); !ok || got != k {
		t.Fatalf("not queued again after done")
	}
}
