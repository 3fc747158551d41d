package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LastSeq is the stream's last sequence: the resourceVersion of the
// whole log. It is 0 for an empty stream.
func (l *Log) LastSeq(ctx context.Context) (uint64, error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, wrapNATS("stream info", err)
	}
	return info.State.LastSeq, nil
}

// Last is the newest event of one object, passing over quarantined
// messages (see SetQuarantined); ErrNotFound if it has none.
// With replicas it may be served by a follower that lags by a few
// milliseconds; Append's expectation catches a stale read.
func (l *Log) Last(ctx context.Context, ref Ref) (Event, error) {
	if err := ref.Validate(); err != nil {
		return Event{}, err
	}
	m, err := l.stream.GetLastMsgForSubject(ctx, ref.Subject())
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Event{}, fmt.Errorf("%w: no events for %s", ErrNotFound, ref)
	}
	if err != nil {
		return Event{}, wrapNATS("last event of "+ref.String(), err)
	}
	ev, err := decodeRaw(m)
	if q := l.quarantined.Load(); err != nil || q != nil && (*q)(m.Sequence) {
		return l.lastGood(ctx, ref, m) // see quarantine.go
	}
	return ev, nil
}

// Get is the event at stream sequence seq; ErrNotFound if there is none
// (never written, or discarded by the stream's limits).
func (l *Log) Get(ctx context.Context, seq uint64) (Event, error) {
	if seq == 0 {
		return Event{}, fmt.Errorf("%w: sequence 0 (sequences start at 1)", ErrNotFound)
	}
	m, err := l.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Event{}, fmt.Errorf("%w: no event at sequence %d", ErrNotFound, seq)
	}
	if err != nil {
		return Event{}, wrapNATS(fmt.Sprintf("get event %d", seq), err)
	}
	return decodeRaw(m)
}

func decodeRaw(m *jetstream.RawStreamMsg) (Event, error) {
	ev, err := Decode(m.Subject, m.Header, m.Data, m.Sequence)
	if err != nil {
		return Event{}, &DecodeError{Seq: m.Sequence, Subject: m.Subject, Err: err, Header: m.Header, Data: m.Data}
	}
	return ev, nil
}

// stopAt is the bad-message handler of Read and Subscribe: stop there.
func stopAt(de *DecodeError) error { return de }

// Read calls fn for every event with sequence >= from that matches filter
// ("" for all; see FilterSubject), in order, up to the stream's last
// sequence when Read was called, then returns nil. It stops with fn's
// error, or with a *DecodeError for an event it cannot decode.
func (l *Log) Read(ctx context.Context, from uint64, filter string, fn func(Event) error) error {
	return l.ReadSkipping(ctx, from, filter, fn, stopAt)
}

// ReadSkipping is Read for readers that survive any bytes in the log
// (ARCHITECTURE.md, decision 11): a message that does not decode goes to
// bad, in its place in the order, and the read goes on past it when bad
// returns nil.
func (l *Log) ReadSkipping(ctx context.Context, from uint64, filter string, fn func(Event) error, bad func(*DecodeError) error) error {
	last, err := l.LastSeq(ctx)
	if err != nil {
		return err
	}
	from = max(from, 1)
	if from > last {
		return nil
	}
	c, err := l.orderedConsumer(ctx, from, filter)
	if err != nil {
		return err
	}
	it, err := c.Messages()
	if err != nil {
		return wrapNATS("read", err)
	}
	defer l.stop(it, c)
	if info := c.CachedInfo(); info != nil && info.NumPending == 0 {
		return nil // nothing matches at all
	}
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return wrapNATS("read", err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return wrapNATS("read", err)
		}
		seq := meta.Sequence.Stream
		if seq > last {
			return nil
		}
		if err := deliver(m, seq, fn, bad); err != nil {
			return err
		}
		// NumPending counts the matching events not yet delivered: at 0,
		// nothing up to last is left.
		if seq == last || meta.NumPending == 0 {
			return nil
		}
	}
}

// Subscribe calls fn for every event with sequence >= from that matches
// filter ("" for all), in order, now and as they are appended, until ctx
// is cancelled (it returns ctx.Err()), fn returns an error (returned), an
// event cannot be decoded (a *DecodeError) or the connection is closed
// (ErrUnavailable). It rides out disconnections: the ordered consumer
// resumes after the last delivered event. Watch from resourceVersion N is
// Subscribe from N+1.
func (l *Log) Subscribe(ctx context.Context, from uint64, filter string, fn func(Event) error) error {
	return l.SubscribeSkipping(ctx, from, filter, fn, stopAt)
}

// SubscribeSkipping is Subscribe for readers that survive any bytes in
// the log: a message that does not decode goes to bad, in its place in
// the order, and the subscription goes on past it when bad returns nil.
func (l *Log) SubscribeSkipping(ctx context.Context, from uint64, filter string, fn func(Event) error, bad func(*DecodeError) error) error {
	c, err := l.orderedConsumer(ctx, max(from, 1), filter)
	if err != nil {
		return err
	}
	it, err := c.Messages()
	if err != nil {
		return wrapNATS("subscribe", err)
	}
	defer l.stop(it, c)

	// Stop the iterator when the connection closes for good; ctx is
	// handled by Next.
	closed := l.nc.StatusChanged(nats.CLOSED)
	defer l.nc.RemoveStatusListener(closed)
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-closed:
			it.Stop()
		case <-done:
		}
	}()

	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) && l.nc.IsClosed() {
			return wrapNATS("subscribe", nats.ErrConnectionClosed)
		}
		if err != nil {
			return wrapNATS("subscribe", err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return wrapNATS("subscribe", err)
		}
		if err := deliver(m, meta.Sequence.Stream, fn, bad); err != nil {
			return err
		}
	}
}

func deliver(m jetstream.Msg, seq uint64, fn func(Event) error, bad func(*DecodeError) error) error {
	ev, err := Decode(m.Subject(), m.Headers(), m.Data(), seq)
	if err != nil {
		return bad(&DecodeError{Seq: seq, Subject: m.Subject(), Err: err, Header: m.Headers(), Data: m.Data()})
	}
	return fn(ev)
}

func (l *Log) orderedConsumer(ctx context.Context, from uint64, filter string) (jetstream.Consumer, error) {
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		InactiveThreshold: time.Minute,
	}
	if filter != "" {
		cfg.FilterSubjects = []string{filter}
	}
	c, err := l.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, wrapNATS(fmt.Sprintf("consume from %d filter %q", from, filter), err)
	}
	return c, nil
}

// stop ends a read: the iterator, then the server's consumer, which
// would otherwise linger until its inactivity threshold.
func (l *Log) stop(it jetstream.MessagesContext, c jetstream.Consumer) {
	it.Stop()
	info := c.CachedInfo()
	if info == nil || l.nc.IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = l.js.DeleteConsumer(ctx, StreamName, info.Name)
}
