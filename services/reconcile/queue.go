package reconcile

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/wakehq/wake/events"
)

// Retries back off per key, doubling from minRetry up to maxRetry, as
// client-go's per-item exponential rate limiter does; a success resets
// the key's count.
const (
	minRetry = 50 * time.Millisecond
	maxRetry = 30 * time.Second
)

// queue holds keys to reconcile. A key is held once however often it is
// added, and never handed to two workers at once. Keys added for later
// wait in the queue itself (no timer goroutines), so nothing of the queue
// outlives the loop that reads it.
type queue struct {
	mu     sync.Mutex
	order  []events.Ref
	queued map[events.Ref]bool
	active map[events.Ref]bool
	dirty  map[events.Ref]bool      // added again while active
	later  map[events.Ref]time.Time // keys waiting, and when they are due
	due    dueHeap                  // later's keys, earliest first (stale entries skipped)
	fails  map[events.Ref]int       // consecutive failures, for backoff
	wake   chan struct{}
}

func newQueue() *queue {
	return &queue{queued: map[events.Ref]bool{}, active: map[events.Ref]bool{}, dirty: map[events.Ref]bool{},
		later: map[events.Ref]time.Time{}, fails: map[events.Ref]int{}, wake: make(chan struct{}, 1)}
}

func (q *queue) add(k events.Ref) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(k)
}

func (q *queue) addLocked(k events.Ref) {
	switch {
	case q.active[k]:
		q.dirty[k] = true
	case !q.queued[k]:
		q.queued[k] = true
		q.order = append(q.order, k)
		q.signal()
	}
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// addAfter adds k once d has passed; an earlier due time for k stands.
func (q *queue) addAfter(k events.Ref, d time.Duration) {
	if d <= 0 {
		q.add(k)
		return
	}
	at := time.Now().Add(d)
	q.mu.Lock()
	defer q.mu.Unlock()
	if cur, ok := q.later[k]; ok && !at.Before(cur) {
		return
	}
	q.later[k] = at
	heap.Push(&q.due, dueKey{k, at})
	q.signal()
}

// retry adds k again after its next backoff, and returns that backoff and
// how many times in a row k has failed.
func (q *queue) retry(k events.Ref) (time.Duration, int) {
	q.mu.Lock()
	q.fails[k]++
	n := q.fails[k]
	q.mu.Unlock()
	d := maxRetry
	if n < 20 { // 50ms << 20 is far above maxRetry
		d = min(minRetry<<(n-1), maxRetry)
	}
	q.addAfter(k, d)
	return d, n
}

// forget resets k's backoff.
func (q *queue) forget(k events.Ref) {
	q.mu.Lock()
	delete(q.fails, k)
	q.mu.Unlock()
}

// next blocks for a key; false when ctx ends, even with keys still queued:
// a cancelled loop starts no more work.
func (q *queue) next(ctx context.Context) (events.Ref, bool) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if ctx.Err() != nil {
			return events.Ref{}, false
		}
		q.mu.Lock()
		wait := q.promote(time.Now())
		if len(q.order) > 0 {
			k := q.order[0]
			q.order = q.order[1:]
			delete(q.queued, k)
			q.active[k] = true
			q.mu.Unlock()
			return k, true
		}
		q.mu.Unlock()
		var fire <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			fire = timer.C
		}
		select {
		case <-q.wake:
		case <-fire:
		case <-ctx.Done():
			return events.Ref{}, false
		}
	}
}

// promote queues the waiting keys due at now, and returns how long until
// the next one is (0: none waits). Call with q.mu held.
func (q *queue) promote(now time.Time) time.Duration {
	for q.due.Len() > 0 {
		first := q.due[0]
		if at, ok := q.later[first.key]; !ok || !at.Equal(first.at) {
			heap.Pop(&q.due) // superseded by an earlier due time
			continue
		}
		if first.at.After(now) {
			return first.at.Sub(now)
		}
		heap.Pop(&q.due)
		delete(q.later, first.key)
		q.addLocked(first.key)
	}
	return 0
}

// done releases a key; one added while it was active is queued again.
func (q *queue) done(k events.Ref) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, k)
	if q.dirty[k] {
		delete(q.dirty, k)
		q.addLocked(k)
	}
}

type dueKey struct {
	key events.Ref
	at  time.Time
}

// dueHeap orders waiting keys by due time (container/heap).
type dueHeap []dueKey

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueKey)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
