package projections

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
)

// Sequences the log no longer holds.
//
// The stream denies deleting single messages, but a purge by subject (an
// operator's `nats stream purge --subject`) or a stream from before that
// rule can leave sequences that no message will ever fill. In the middle of
// the log such a gap is harmless: the next event moves the applied
// sequence over it. At its end it is not: the stream's last sequence is
// one no event carries, so a projection restarted on that log would wait
// for it forever (the gateway's "catching up" 503 that never ends), and so
// would every WaitFor(LastSeq) of a running one. A waiter that sees no
// progress for gapCheckAfter asks the stream what it still holds and
// moves the applied sequence over the sequences it lacks (skipGap).

// gapCheckAfter is how long WaitFor waits without reaching its sequence
// before it asks the log whether the sequences it lacks still exist. A
// write is normally applied well within it, so it costs nothing then.
const gapCheckAfter = 200 * time.Millisecond

// gapCheck is what WaitFor needs to look for gaps: the log Run folds (nil
// before Run: then WaitFor only waits), and when the last look began, so
// that many stalled waiters (a burst of writes while the projection lags)
// make one look per gapCheckAfter between them, not one each.
type gapCheck struct {
	log  atomic.Pointer[events.Log]
	last atomic.Int64 // unix nanoseconds
}

// skipGapOnce is skipGap unless another waiter looked less than
// gapCheckAfter ago.
func (p *Projection) skipGapOnce(ctx context.Context, log *events.Log) error {
	now, last := time.Now().UnixNano(), p.gaps.last.Load()
	if now-last < int64(gapCheckAfter) || !p.gaps.last.CompareAndSwap(last, now) {
		return nil
	}
	return p.skipGap(ctx, log)
}

// skipGap moves the applied sequence over every sequence up to the log's
// last that holds no message: it reads the last sequence first, then the
// first message after the applied one, so a sequence it skips was
// assigned and holds nothing, and will never be filled.
func (p *Projection) skipGap(ctx context.Context, log *events.Log) error {
	last, err := log.LastSeq(ctx)
	if err != nil {
		return err
	}
	from := p.Seq()
	if last <= from {
		return nil
	}
	upto := last
	m, err := log.Stream().GetMsg(ctx, from+1, jetstream.WithGetMsgSubject(events.AllSubjects))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return err
	case m.Sequence <= from+1:
		return nil // the next event exists: the fold will reach it
	default:
		upto = min(upto, m.Sequence-1)
	}
	p.advance(upto)
	return nil
}

// advance moves the applied sequence to seq, over events the log does not
// hold, and wakes waiters. It never moves back: an event applied meanwhile
// keeps its place.
func (p *Projection) advance(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq <= p.state.seq {
		return
	}
	p.log.Warn("projection: the log holds no events here; moving over them", "from", p.state.seq+1, "to", seq)
	p.state.seq = seq
	close(p.notify)
	p.notify = make(chan struct{})
}
