package projections

import (
	"context"
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
// progress for gapCheckAfter asks the stream's leader which sequences it
// deleted and moves the applied sequence over those (skipGap).

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

// skipGap moves the applied sequence over the sequences right after it
// that the stream lists as deleted. It asks the stream's leader (stream
// info with deleted details), never a replica: a direct get may be
// answered by a follower that has not stored the newest events yet, and
// moving over those would lose them (the fault drills caught exactly
// that). Sequences below the stream's first were dropped by retention:
// those are never moved over here, as Run refuses to fold a state with
// events missing.
func (p *Projection) skipGap(ctx context.Context, log *events.Log) error {
	info, err := log.Stream().Info(ctx, jetstream.WithDeletedDetails(true))
	if err != nil {
		return err
	}
	st := info.State
	from := p.Seq()
	if st.LastSeq <= from || from+1 < st.FirstSeq {
		return nil
	}
	deleted := make(map[uint64]bool, len(st.Deleted))
	for _, seq := range st.Deleted {
		deleted[seq] = true
	}
	upto := from
	for upto < st.LastSeq && deleted[upto+1] {
		upto++
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
