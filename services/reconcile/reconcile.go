// Package reconcile is the loop every wake controller shares: it turns
// projection changes into keys, calls a pure Reconcile for each key, and
// appends the events it returns with their expected sequences. A conflict
// means another writer moved first: the key is retried from fresh state.
//
// It must not decide anything itself; deciding is the controller's pure
// function. Work is level-based: a key carries no event, only a name.
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
	// Resync reconciles every key of Resync's kind again at this period, for
	// decisions that depend on time alone. Zero disables it.
	Resync     time.Duration
	ResyncKeys func(view View) []events.Ref
	// RequeueAfter, when set, is asked after each successful reconcile how
	// long until the key's next time-driven decision (a deadline, a
	// schedule, minReadySeconds); zero means none. Pure, like Reconcile.
	RequeueAfter func(view View, key events.Ref, now time.Time) time.Duration
	// Sources run beside the loop and add keys from outside the log (for
	// example node heartbeats from a KV bucket). A source returning an
	// error other than ctx's ends the loop.
	Sources []func(ctx context.Context, enqueue func(events.Ref)) error
	Logger  *slog.Logger
	Now     func() time.Time
}

// Run processes keys until ctx ends.
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
	if l.ResyncKeys != nil {
		for _, k := range l.ResyncKeys(l.View) {
			q.add(k)
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.feed(ctx, w, q)
	}()
	sourceErr := make(chan error, len(l.Sources))
	for _, src := range l.Sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := src(ctx, q.add); err != nil && ctx.Err() == nil {
				sourceErr <- err
				cancel()
			}
		}()
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
		err := l.process(ctx, key)
		switch {
		case err == nil:
			if l.RequeueAfter != nil {
				if d := l.RequeueAfter(l.View, key, l.Now()); d > 0 {
					q.addAfter(key, d)
				}
			}
		case errors.Is(err, events.ErrConflict) && l.catchUp(ctx) == nil:
			// Another writer moved first; the view now holds its write.
			q.add(key)
		default:
			l.Logger.Warn("reconcile failed; retrying", "controller", l.Name, "key", key.String(), "err", err)
			q.addAfter(key, time.Second)
		}
		q.done(key)
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

func (l *Loop) feed(ctx context.Context, w *projections.Watcher, q *queue) {
	var tick <-chan time.Time
	if l.Resync > 0 && l.ResyncKeys != nil {
		t := time.NewTicker(l.Resync)
		defer t.Stop()
		tick = t.C
	}
	changes := make(chan []projections.Change)
	go func() {
		for {
			batch, err := w.Next(ctx)
			if err != nil {
				if errors.Is(err, projections.ErrExpired) {
					// Fell behind the fan-out: start again from now and resync everything.
					if w, err = l.View.Watch(l.View.Seq()); err == nil {
						for _, k := range l.ResyncKeys(l.View) {
							q.add(k)
						}
						continue
					}
				}
				close(changes)
				return
			}
			changes <- batch
		}
	}()
	for {
		select {
		case batch, ok := <-changes:
			if !ok {
				return
			}
			for _, ch := range batch {
				for _, k := range l.Keys(ch) {
					q.add(k)
				}
			}
		case <-tick:
			for _, k := range l.ResyncKeys(l.View) {
				q.add(k)
			}
		case <-ctx.Done():
			return
		}
	}
}

// process reconciles one key and appends its decisions as one batch (they
// must name different objects). It then waits until the view has applied
// them, so the reconciler never decides twice on the same state.
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
		ev := a.Event
		ev.ID = events.NewID()
		ev.Actor = l.Name
		ev.Source = "wake/controllers"
		if ev.RequestID == "" {
			ev.RequestID = ev.ID
		}
		if ev.Time.IsZero() {
			ev.Time = l.Now().UTC()
		}
		batch[i] = events.Pending{Event: ev, Expect: a.Expect}
	}
	var last uint64
	var errs []error
	for i, r := range l.Log.AppendBatch(ctx, batch) {
		if errors.Is(r.Err, events.ErrConflict) {
			r = l.recreate(ctx, batch[i], r)
		}
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("append %s for %s: %w", batch[i].Event.Type, batch[i].Event.Ref, r.Err))
		}
		last = max(last, r.Seq)
	}
	if last > 0 {
		if err := l.View.WaitFor(ctx, last); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}

// recreate retries a create that conflicted because its name was used
// before: an object's subject ends with the deletion of its last object, so
// a new one must expect that deletion's sequence (as the gateway's creates
// do), not 0. Any other conflict stands.
func (l *Loop) recreate(ctx context.Context, p events.Pending, r events.Result) events.Result {
	if p.Event.Type != events.ObjectCreated || p.Expect != 0 {
		return r
	}
	last, err := l.Log.Last(ctx, p.Event.Ref)
	if err != nil || last.Type != events.ObjectDeleted {
		return r
	}
	seq, err := l.Log.Append(ctx, p.Event, last.Seq)
	return events.Result{Seq: seq, Err: err}
}
