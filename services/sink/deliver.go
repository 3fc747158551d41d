package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
)

// ExtSeq is the CloudEvents extension carrying the event's stream
// sequence (its resourceVersion), as a decimal string.
const ExtSeq = "wakeseq"

// worker delivers to one sink.
type worker struct {
	reg    Registration
	rev    uint64
	stream jetstream.Stream
	opts   Options
}

// supervise runs the worker until ctx ends, restarting it after a failure
// (NATS unavailable, consumer deleted behind its back).
func (w *worker) supervise(ctx context.Context) {
	log := w.opts.Logger.With("sink", w.reg.Name)
	for delay := time.Second; ; delay = min(2*delay, time.Minute) {
		err := w.run(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn("sink delivery interrupted; restarting", "err", err, "after", delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

func (w *worker) run(ctx context.Context) error {
	c, err := w.ensureConsumer(ctx)
	if err != nil {
		return fmt.Errorf("consumer %s: %w", ConsumerName(w.reg.Name), err)
	}
	w.opts.Logger.Info("sink delivering", "sink", w.reg.Name, "url", w.reg.URL, "filter", w.reg.FilterSubject(), "type", w.reg.Type)
	// One pull request per event, issued after the previous one is
	// settled: with one delivery in flight there is nothing to prefetch.
	for {
		pctx, cancel := context.WithTimeout(ctx, pollWait)
		m, err := c.Next(jetstream.FetchContext(pctx))
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, jetstream.ErrNoMessages):
			continue // nothing new: poll again
		case err != nil:
			return err
		}
		w.handle(ctx, m)
	}
}

// pollWait is how long one pull request waits for an event.
const pollWait = 30 * time.Second

// handle delivers one message and settles it: ack after a 2xx, nak with
// the retry delay otherwise, term when it can never be delivered.
func (w *worker) handle(ctx context.Context, m jetstream.Msg) {
	log := w.opts.Logger.With("sink", w.reg.Name, "subject", m.Subject())
	meta, err := m.Metadata()
	if err != nil {
		log.Warn("sink: message without metadata", "err", err)
		_ = m.Term()
		return
	}
	seq := meta.Sequence.Stream
	log.Debug("sink: got", "seq", seq, "delivered", meta.NumDelivered)
	ev, err := events.Decode(m.Subject(), m.Headers(), m.Data(), seq)
	if err != nil {
		// Retrying cannot fix it; skip it loudly.
		log.Warn("sink: event skipped, it does not decode", "seq", seq, "err", err)
		_ = m.TermWithReason("does not decode")
		return
	}
	ev, ok := w.reg.redact(ev)
	if !ok || !w.reg.matches(ev) {
		w.settle(ctx, m)
		return
	}
	err = w.send(ctx, ev)
	if ctx.Err() != nil {
		// Shutting down: hand the event back at once for the next holder.
		_ = m.Nak()
		return
	}
	if err == nil {
		w.settle(ctx, m)
		return
	}
	n := int(meta.NumDelivered)
	if n >= w.opts.MaxDeliver {
		log.Error("sink: event dropped after the last attempt", "seq", seq, "attempts", n, "err", err)
		_ = m.TermWithReason("max deliveries")
		return
	}
	delay := w.opts.Retry[min(n, len(w.opts.Retry))-1]
	log.Warn("sink: delivery failed; retrying", "seq", seq, "attempt", n, "after", delay, "err", err)
	_ = m.NakWithDelay(delay)
}

// settle acknowledges m and waits for the server to confirm, so that the
// next event is never sent before this one is recorded as delivered.
func (w *worker) settle(ctx context.Context, m jetstream.Msg) {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := m.DoubleAck(actx); err != nil && ctx.Err() == nil {
		// The event will come again: a duplicate, never a loss.
		w.opts.Logger.Warn("sink: ack not confirmed", "sink", w.reg.Name, "err", err)
	}
}

// send posts ev to the sink (binary mode), within the request timeout.
func (w *worker) send(ctx context.Context, ev events.Event) error {
	ce, err := ev.CloudEvent()
	if err != nil {
		return err
	}
	ce.SetExtension(ExtSeq, strconv.FormatUint(ev.Seq, 10))
	sctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	res := w.opts.Client.Send(cloudevents.ContextWithTarget(sctx, w.reg.URL), ce)
	if cloudevents.IsACK(res) {
		return nil
	}
	if res == nil {
		return errors.New("no result")
	}
	return res
}
