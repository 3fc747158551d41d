// Package consumerexample is the durable JetStream consumer an integrator
// writes to follow wake's log from outside wake: a named pull consumer on
// the stream WAKE with a subject filter, acknowledged event by event, so
// that a restart resumes after the last acknowledged event without losing
// one (at least once: an event handled but not yet acknowledged when the
// process died comes again).
//
// It is an example meant to be copied; wake itself does not use it. It
// needs only nats.go and events.Decode (or the README's header table).
package consumerexample

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
)

// Open creates the durable consumer name on WAKE, or finds it again after
// a restart (same name, same filter: its position is kept by the server).
// filter is a subject filter such as events.FilterSubject("apps",
// "deployments", "") or "" for every object.
func Open(ctx context.Context, js jetstream.JetStream, name, filter string) (jetstream.Consumer, error) {
	if filter == "" {
		filter = events.AllSubjects
	}
	return js.CreateOrUpdateConsumer(ctx, events.StreamName, jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: filter,
		DeliverPolicy: jetstream.DeliverAllPolicy, // or DeliverByStartSequencePolicy + OptStartSeq
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second, // longer than handle takes
		MaxDeliver:    -1,               // never give up; bound it if handle can fail forever
		// MaxAckPending 1 keeps the log's order across redeliveries; raise
		// it only if handle does not care about order.
		MaxAckPending: 1,
	})
}

// Consume fetches events one by one (MaxAckPending 1 lets the server hand
// out only one at a time anyway; a consumer that allows more can fetch
// more, but must then finish every batch it fetched), decodes each and calls handle, then
// acknowledges it; it returns when ctx ends (nil) or handle fails (the
// event is not acknowledged and comes again on the next run). Events of a
// type this version does not know are skipped deliberately; an event that
// does not decode stops it.
func Consume(ctx context.Context, c jetstream.Consumer, handle func(events.Event) error) error {
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		batch, err := c.Fetch(1, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch: %w", err)
		}
		for m := range batch.Messages() {
			if err := consumeOne(ctx, m, handle); err != nil {
				cancel()
				return err
			}
		}
		cancel()
		if err := batch.Error(); err != nil && ctx.Err() == nil &&
			!errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("fetch: %w", err)
		}
	}
	return nil
}

func consumeOne(ctx context.Context, m jetstream.Msg, handle func(events.Event) error) error {
	meta, err := m.Metadata()
	if err != nil {
		return err
	}
	ev, err := events.Decode(m.Subject(), m.Headers(), m.Data(), meta.Sequence.Stream)
	switch {
	case errors.Is(err, events.ErrUnknownType):
		return m.DoubleAck(ctx) // written by a newer wake: skip it, on purpose
	case err != nil:
		// Not an event (poison: wake's projection quarantines it). Stopping
		// here would stop the consumer for good; skip it, loudly.
		slog.Warn("consumer: message skipped, it is not an event", "seq", meta.Sequence.Stream, "subject", m.Subject(), "err", err)
		return m.DoubleAck(ctx)
	}
	if err := handle(ev); err != nil {
		_ = m.Nak()
		return err
	}
	// DoubleAck waits for the server to record the ack: once it returns,
	// a restart will not deliver this event again. It is sent even when
	// ctx ended meanwhile: the event was handled.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return m.DoubleAck(actx)
}
