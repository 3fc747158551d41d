package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Append writes ev if the last event on its object's subject has sequence
// expect (0: the object must have no event yet, i.e. create-if-absent)
// and returns the event's stream sequence. A zero ev.Time is set to now.
//
// Errors: ErrInvalid (nothing was written), *ConflictError matching
// ErrConflict (re-read and retry with a new expectation), ErrUnavailable
// (the outcome is unknown: retry with the same ev.ID).
//
// Appending an event id that is already stored, as the next event of the
// subject after expect, returns the stored sequence and no error: a retry
// after a lost acknowledgement does not apply the change twice. JetStream
// deduplicates within the Duplicates window; Append also recognises the
// retry after the window, and on a single server, where JetStream checks
// the expectation before the duplicate id (see the README).
func (l *Log) Append(ctx context.Context, ev Event, expect uint64) (uint64, error) {
	return l.append(ctx, ev, expect, true)
}

// append is Append; overQuarantined allows one more attempt expecting
// the last of the quarantined messages that follow expect (see
// quarantine.go).
func (l *Log) append(ctx context.Context, ev Event, expect uint64, overQuarantined bool) (uint64, error) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC().Truncate(time.Microsecond)
	}
	msg, err := l.encode(ev)
	if err != nil {
		return 0, err
	}
	msg.Header[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatUint(expect, 10)}
	ack, err := l.js.PublishMsg(ctx, msg)
	if err == nil {
		return ack.Sequence, nil // ack.Duplicate: ack.Sequence is the original's
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return l.conflict(ctx, ev, expect, apiErr, overQuarantined)
	}
	return 0, wrapNATS(fmt.Sprintf("append %s %s", ev.Type, ev.Ref), err)
}

// conflict turns a failed expectation into a *ConflictError, unless ev
// itself is the event that followed expect on the subject: then this was
// a retry of an append that succeeded, and its sequence is returned.
func (l *Log) conflict(ctx context.Context, ev Event, expect uint64, apiErr *jetstream.APIError, overQuarantined bool) (uint64, error) {
	cerr := &ConflictError{Ref: ev.Ref, Expected: expect}
	// 10071's description is "wrong last sequence: N"; 10164 (R>1) has no N.
	if apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		if _, n, ok := strings.Cut(apiErr.Description, ": "); ok {
			if actual, err := strconv.ParseUint(strings.TrimSpace(n), 10, 64); err == nil {
				cerr.Actual, cerr.ActualKnown = actual, true
			}
		}
	}
	if cerr.ActualKnown && cerr.Actual <= expect {
		return 0, cerr // nothing followed expect: it cannot be a retry
	}
	next, err := l.stream.GetMsg(ctx, expect+1, jetstream.WithGetMsgSubject(ev.Ref.Subject()))
	if err == nil && next.Header.Get(HeaderID) == ev.ID {
		return next.Sequence, nil
	}
	if err == nil && overQuarantined {
		// Only quarantined messages after expect: nobody wrote the object.
		if seq, stored, ok := l.skipTail(ctx, ev.Ref.Subject(), next, ev.ID); ok {
			if stored {
				return seq, nil
			}
			return l.append(ctx, ev, seq, false)
		}
	}
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		// Whether an earlier attempt of ev was stored is unknown.
		return 0, fmt.Errorf("%v; %w", cerr, wrapNATS("check for a retried append", err))
	}
	return 0, cerr
}
