package reconcile

import (
	"context"
	"sync"
	"time"

	"github.com/wakehq/wake/events"
)

// queue holds keys to reconcile. A key is held once however often it is
// added, and never handed to two workers at once.
type queue struct {
	mu     sync.Mutex
	order  []events.Ref
	queued map[events.Ref]bool
	active map[events.Ref]bool
	dirty  map[events.Ref]bool // added again while active
	wake   chan struct{}
}

func newQueue() *queue {
	return &queue{queued: map[events.Ref]bool{}, active: map[events.Ref]bool{}, dirty: map[events.Ref]bool{}, wake: make(chan struct{}, 1)}
}

func (q *queue) add(k events.Ref) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.active[k]:
		q.dirty[k] = true
	case !q.queued[k]:
		q.queued[k] = true
		q.order = append(q.order, k)
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (q *queue) addAfter(k events.Ref, d time.Duration) {
	time.AfterFunc(d, func() { q.add(k) })
}

// next blocks for a key; false when ctx ends.
func (q *queue) next(ctx context.Context) (events.Ref, bool) {
	for {
		q.mu.Lock()
		if len(q.order) > 0 {
			k := q.order[0]
			q.order = q.order[1:]
			delete(q.queued, k)
			q.active[k] = true
			q.mu.Unlock()
			return k, true
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-ctx.Done():
			return events.Ref{}, false
		}
	}
}

// done releases a key; one added while it was active is queued again.
func (q *queue) done(k events.Ref) {
	q.mu.Lock()
	delete(q.active, k)
	again := q.dirty[k]
	delete(q.dirty, k)
	q.mu.Unlock()
	if again {
		q.add(k)
	}
}
