package events

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Writers over quarantined messages.
//
// A message that is not a valid event (it does not decode, or the fold
// quarantines it: see projections.Quarantined) still takes a sequence on
// its object's subject, so an expectation that ignores it (the object's
// resourceVersion, or 0 for a name whose subject holds only such messages)
// would conflict for ever, and the object could never be written again.
// So Append, on a conflict, looks at the messages after the expectation:
// when every one of them is quarantined, nobody else wrote the object,
// and Append writes again expecting the last of them. Last, likewise,
// answers the newest message of the object that is not quarantined.

// maxSkipped bounds how many quarantined messages in a row Append and
// Last step over on one subject (each costs a direct get).
const maxSkipped = 1000

// SetQuarantined tells the log which stored messages its process's fold
// quarantined although they decode (projections.Projection.Run sets it);
// messages that do not decode are quarantined by every fold and need no
// telling. nil forgets it.
func (l *Log) SetQuarantined(quarantined func(seq uint64) bool) {
	if quarantined == nil {
		l.quarantined.Store(nil)
		return
	}
	l.quarantined.Store(&quarantined)
}

// skippable reports whether m is a message the fold quarantines and a
// writer may write over. An event of a wake type this wake does not know
// is not: a newer wake wrote it (during an upgrade), and it may well
// have changed the object.
func (l *Log) skippable(m *jetstream.RawStreamMsg) bool {
	if _, err := Decode(m.Subject, m.Header, m.Data, m.Sequence); err != nil {
		newer := errors.Is(err, ErrUnknownType) && strings.HasPrefix(m.Header.Get(HeaderType), TypePrefix)
		return !newer
	}
	if l.quarantined == nil {
		return false
	}
	q := l.quarantined.Load()
	return q != nil && (*q)(m.Sequence)
}

// skipTail walks the messages of subject from first (included) while they
// are quarantined. It returns the sequence of the last of them when they
// run to the end of the subject (ok), or, when it meets ev itself (a
// retry that was stored), its sequence with stored set.
func (l *Log) skipTail(ctx context.Context, subject string, first *jetstream.RawStreamMsg, id string) (seq uint64, stored, ok bool) {
	m := first
	for range maxSkipped {
		if m.Header.Get(HeaderID) == id && id != "" {
			return m.Sequence, true, true
		}
		if !l.skippable(m) {
			return 0, false, false
		}
		next, err := l.stream.GetMsg(ctx, m.Sequence+1, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return m.Sequence, false, true
		}
		if err != nil {
			return 0, false, false
		}
		m = next
	}
	return 0, false, false
}

// lastGood is the newest message of subject that is not quarantined, given
// its newest message m (which is). ErrNotFound when it has none.
func (l *Log) lastGood(ctx context.Context, ref Ref, m *jetstream.RawStreamMsg) (Event, error) {
	// JetStream has no "previous message on a subject": walk forward from
	// the start of the subject (a rare path: the object's last message is
	// quarantined).
	var good *jetstream.RawStreamMsg
	seq := uint64(1)
	for seq <= m.Sequence {
		next, err := l.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(ref.Subject()))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return Event{}, wrapNATS("last event of "+ref.String(), err)
		}
		if next.Sequence > m.Sequence {
			break
		}
		if !l.skippable(next) {
			good = next
		}
		seq = next.Sequence + 1
	}
	if good == nil {
		return Event{}, fmt.Errorf("%w: no events for %s (only quarantined messages)", ErrNotFound, ref)
	}
	return decodeRaw(good)
}
