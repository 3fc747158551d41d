// Package reconcile is the loop every wake controller shares: it turns
// projection changes into keys, calls a pure Reconcile for each key, and
// appends the events it returns with their expected sequences. A conflict
// means another writer moved first: the key is retried from fresh state.
//
// It must not decide anything itself; deciding is the controller's pure
// function. Work is level-based: a key carries no event, only a name.
//
// The loop's lifecycle is controller-runtime's: a failed key is retried
// with backoff per key, a TerminalError is not retried, time-driven work
// is one per-key RequeueAfter, and a cancelled loop starts no more work
// and returns only once every goroutine it started has ended.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// View is what a reconciler may read: the projection, read-only.
type View interface {
	Get(ref events.Ref) (*projections.Object, bool)
	List(group, resource, namespace string) ([]*projections.Object, uint64)
	// Seq is the sequence of the last event the view reflects: a seed for
	// names and uids that makes decisions replayable.
	Seq() uint64
}

var _ View = (*projections.Projection)(nil)

// Append is one decision: an event and the subject sequence it expects.
// The zero Append decides nothing and is skipped.
type Append struct {
	Event  events.Event
	Expect uint64
}

// Empty reports whether a is the zero Append.
func (a Append) Empty() bool { return a.Event.Type == "" }

// Func decides what to append for one key, from the view, at time now.
type Func func(view View, key events.Ref, now time.Time) ([]Append, error)

// Loop runs one controller.
type Loop struct {
	Name      string // the actor of its events: "system:controller:namespace"
	Log       *events.Log
	View      *projections.Projection
	Reconcile Func
	// Keys maps a change to the keys it affects; nil keys skip the change.
	Keys func(projections.Change) []events.Ref
	// ResyncKeys lists the keys to reconcile when the loop starts and when
	// its watch falls behind the projection's fan-out (typically AllOf
	// the controller's resource); nil lists none.
	ResyncKeys func(view View) []events.Ref
	// RequeueAfter is the loop's only time-driven mechanism: asked after
	// each successful reconcile, it says when to reconcile the key again
	// without any change in the log (see RequeueFunc, Every, Until). Nil
	// never requeues.
	RequeueAfter RequeueFunc
	// Sources run beside the loop and add keys from outside the log (for
	// example node heartbeats from a KV bucket). A source returning an
	// error other than ctx's ends the loop.
	Sources []func(ctx context.Context, enqueue func(events.Ref)) error
	Logger  *slog.Logger
	Now     func() time.Time
}

// Run processes keys until ctx ends. It starts no reconcile once ctx has
// ended, even with keys still queued, and returns only when every
// goroutine it started has ended.
//
// A failed key is retried with backoff (per key, doubling up to maxRetry);
// a conflict is retried at once from the view that holds the other
// writer's change; a TerminalError is logged and not retried.
func (l *Loop) Run(ctx context.Context) error {
	if l.Logger == nil {
		l.Logger = slog.Default()
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	select {
	case <-l.View.Ready():
	case <-ctx.Done():
		return nil
	}
	q := newQueue()
	w, err := l.View.Watch(l.View.Seq())
	if err != nil {
		return err
	}
	l.resync(q)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { l.watch(ctx, w, q) })
	sourceErr := make(chan error, len(l.Sources))
	for _, src := range l.Sources {
		wg.Go(func() {
			if err := src(ctx, q.add); err != nil && ctx.Err() == nil {
				sourceErr <- err
				cancel()
			}
		})
	}
	for {
		key, ok := q.next(ctx)
		if !ok {
			select {
			case err := <-sourceErr:
				return fmt.Errorf("%s: source: %w", l.Name, err)
			default:
				return nil
			}
		}
		l.handle(ctx, q, key, l.process(ctx, key))
		q.done(key)
	}
}

// handle decides what becomes of key after a reconcile that returned err.
func (l *Loop) handle(ctx context.Context, q *queue, key events.Ref, err error) {
	switch {
	case ctx.Err() != nil:
		// Shutting down: whatever failed, the next leader reconciles it.
	case err == nil:
		q.forget(key)
		if l.RequeueAfter != nil {
			if d := l.RequeueAfter(l.View, key, l.Now()); d > 0 {
				q.addAfter(key, d)
			}
		}
	case IsTerminal(err):
		q.forget(key)
		l.Logger.Error("reconcile failed; not retrying until the object changes", "controller", l.Name, "key", key.String(), "err", err)
	case errors.Is(err, events.ErrConflict) && l.catchUp(ctx) == nil:
		// Another writer moved first; the view now holds its write.
		q.add(key)
	default:
		d, n := q.retry(key)
		l.Logger.Warn("reconcile failed; retrying", "controller", l.Name, "key", key.String(), "attempt", n, "in", d, "err", err)
	}
}

// catchUp waits until the view has applied everything in the log.
func (l *Loop) catchUp(ctx context.Context) error {
	last, err := l.Log.LastSeq(ctx)
	if err != nil {
		return err
	}
	return l.View.WaitFor(ctx, last)
}

// resync queues every key ResyncKeys names.
func (l *Loop) resync(q *queue) {
	if l.ResyncKeys == nil {
		return
	}
	for _, k := range l.ResyncKeys(l.View) {
		q.add(k)
	}
}

// watch queues the keys of every change the view applies, until ctx ends.
func (l *Loop) watch(ctx context.Context, w *projections.Watcher, q *queue) {
	for {
		batch, err := w.Next(ctx)
		if errors.Is(err, projections.ErrExpired) && ctx.Err() == nil {
			// Fell behind the fan-out: start again from now and resync everything.
			if l.ResyncKeys == nil {
				l.Logger.Warn("watch fell behind and the loop has no ResyncKeys: the changes in between are missed", "controller", l.Name)
			}
			if w, err = l.View.Watch(l.View.Seq()); err == nil {
				l.resync(q)
				continue
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				l.Logger.Error("watch ended", "controller", l.Name, "err", err)
			}
			return
		}
		for _, ch := range batch {
			for _, k := range l.Keys(ch) {
				q.add(k)
			}
		}
	}
}

// process reconciles one key and appends its decisions as one batch (they
// must name different objects). The writer waits until the view has
// applied them, so the reconciler never decides twice on the same state.
func (l *Loop) process(ctx context.Context, key events.Ref) error {
	appends, err := l.Reconcile(l.View, key, l.Now())
	if err != nil {
		return err
	}
	appends = slices.DeleteFunc(appends, Append.Empty)
	if len(appends) == 0 {
		return nil
	}
	batch := make([]events.Pending, len(appends))
	for i, a := range appends {
		batch[i] = events.Pending{Event: a.Event, Expect: a.Expect}
	}
	w := l.writer()
	results, err := w.AppendBatch(ctx, batch)
	if err != nil {
		return err
	}
	var errs []error
	for i, r := range results {
		if errors.Is(r.Err, events.ErrConflict) {
			r = l.recreate(ctx, w, batch[i], r)
		}
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("append %s for %s: %w", batch[i].Event.Type, batch[i].Event.Ref, r.Err))
		}
	}
	return errors.Join(errs...)
}

// writer writes as the controller: its name is the actor, and every
// append waits for the view.
func (l *Loop) writer() events.Writer {
	return events.Writer{Log: l.Log, Source: "wake/controllers", Actor: l.Name, Now: l.Now, Applied: l.View}
}

// recreate retries a create that conflicted because its name was used
// before: an object's subject ends with the deletion of its last object, so
// a new one must expect that deletion's sequence (as the gateway's creates
// do), not 0. Any other conflict stands. The retry keeps the event's id.
func (l *Loop) recreate(ctx context.Context, w events.Writer, p events.Pending, r events.Result) events.Result {
	if p.Event.Type != events.ObjectCreated || p.Expect != 0 {
		return r
	}
	last, err := l.Log.Last(ctx, p.Event.Ref)
	if err != nil || last.Type != events.ObjectDeleted {
		return r
	}
	ev, err := w.Append(ctx, p.Event, last.Seq)
	return events.Result{Seq: ev.Seq, Err: err}
}
