package events

import (
	"context"
	"time"
)

// Applied is what a Writer waits on after an append: a reader of the log
// (the projection) that returns once it has applied sequence seq. It is
// defined here, where it is consumed, so that events does not import the
// projections that implement it.
type Applied interface {
	WaitFor(ctx context.Context, seq uint64) error
}

// Writer is how every wake role writes: it stamps an event with what the
// writer owns (id, source, actor, request id, time), appends it with its
// expectation, and waits until the reader in Applied has applied it, so
// that the writer's next read sees its own write. Signing stays in Log.
//
// A Writer is a small value: set it up once per role (Source, Actor, Now,
// Applied) and copy it for a request (the gateway sets Actor and
// RequestID from the caller).
//
// A Writer does not retry on its own, and it keeps the errors of Log:
// ErrConflict means re-read and decide again; ErrUnavailable means the
// outcome is unknown, and a retry must pass the stamped event that Append
// returns back in, so that it keeps its id and is not applied twice.
type Writer struct {
	Log    *Log
	Source string // ce-source: "wake/gateway", "wake/controllers", …
	// Actor is ce-wakeactor of events that name none.
	Actor string
	// RequestID is ce-wakerequestid of events that name none; empty: the
	// event's own id.
	RequestID string
	// Now is the clock for events without a time; nil: time.Now.
	Now func() time.Time
	// Applied, when set, is waited on after every append; nil: appends
	// return as soon as the log has stored them.
	Applied Applied
}

// Stamp fills what the writer owns and ev does not have yet: a new id, the
// writer's source (always), actor, request id and time. An event stamped
// once keeps its id when stamped again, which is what makes a retry safe.
func (w Writer) Stamp(ev Event) Event {
	if ev.ID == "" {
		ev.ID = NewID()
	}
	ev.Source = w.Source
	if ev.Actor == "" {
		ev.Actor = w.Actor
	}
	if ev.RequestID == "" {
		ev.RequestID = w.RequestID
	}
	if ev.RequestID == "" {
		ev.RequestID = ev.ID
	}
	if ev.Time.IsZero() {
		now := time.Now
		if w.Now != nil {
			now = w.Now
		}
		ev.Time = now().UTC()
	}
	return ev
}

// Append stamps ev, appends it if the last event of its object has
// sequence expect (Log.Append), and waits until Applied has applied it. It
// returns the stamped event with its sequence in Seq; on an error, the
// stamped event to retry with (Seq is set when only the wait failed).
func (w Writer) Append(ctx context.Context, ev Event, expect uint64) (Event, error) {
	ev = w.Stamp(ev)
	seq, err := w.Log.Append(ctx, ev, expect)
	if err != nil {
		return ev, err
	}
	ev.Seq = seq
	return ev, w.Wait(ctx, seq)
}

// AppendBatch stamps every event of batch in place and appends them as
// one batch (Log.AppendBatch: each with its own expectation, results in
// the order of the batch), then waits until Applied has applied the
// highest sequence written. The error is the wait's; the appends' errors
// are in the results.
func (w Writer) AppendBatch(ctx context.Context, batch []Pending) ([]Result, error) {
	for i := range batch {
		batch[i].Event = w.Stamp(batch[i].Event)
	}
	results := w.Log.AppendBatch(ctx, batch)
	var last uint64
	for _, r := range results {
		last = max(last, r.Seq)
	}
	return results, w.Wait(ctx, last)
}

// Wait waits until Applied has applied seq; it returns at once without
// Applied or for seq 0 (nothing written).
func (w Writer) Wait(ctx context.Context, seq uint64) error {
	if w.Applied == nil || seq == 0 {
		return nil
	}
	return w.Applied.WaitFor(ctx, seq)
}
