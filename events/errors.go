package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The errors callers branch on. Match them with errors.Is; the errors
// returned carry more detail around them.
var (
	// ErrConflict: the object's subject did not have the expected last
	// sequence. Re-read the object and retry (HTTP 409). The error is a
	// *ConflictError.
	ErrConflict = errors.New("events: conflict")
	// ErrNotFound: no such event.
	ErrNotFound = errors.New("events: not found")
	// ErrUnavailable: NATS or the stream did not answer (no responders,
	// timeout, disconnected, JetStream unavailable). Retrying the same
	// call, with the same event id, is safe (HTTP 503).
	ErrUnavailable = errors.New("events: log unavailable")
	// ErrUnknownType: the event's type is not one this version of wake
	// knows. Decode returns it so a reader can skip the event or stop
	// deliberately instead of misreading it.
	ErrUnknownType = errors.New("events: unknown event type")
	// ErrInvalid: the event is malformed, on append or when decoded.
	ErrInvalid = errors.New("events: invalid event")
)

// ConflictError is the error Append returns when the expectation failed.
type ConflictError struct {
	Ref      Ref
	Expected uint64
	// Actual is the subject's last sequence (0: the object has no event)
	// when ActualKnown; the server reports it for R1 streams only.
	Actual      uint64
	ActualKnown bool
}

func (e *ConflictError) Error() string {
	switch {
	case !e.ActualKnown:
		return fmt.Sprintf("events: conflict on %s: expected last sequence %d, the object has changed since", e.Ref, e.Expected)
	case e.Actual == 0:
		return fmt.Sprintf("events: conflict on %s: expected last sequence %d, but the object has no events", e.Ref, e.Expected)
	case e.Expected == 0:
		return fmt.Sprintf("events: conflict on %s: expected no events (create), but the object exists at sequence %d", e.Ref, e.Actual)
	}
	return fmt.Sprintf("events: conflict on %s: expected last sequence %d, actual %d", e.Ref, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// DecodeError is returned by Read and Subscribe for an event they cannot
// decode (and handed to ReadSkipping's and SubscribeSkipping's bad). Seq
// lets a caller that decides to skip it resume at Seq+1; Header and Data
// are the message as stored (nil where the reader did not have them), for
// a reader that must account for it anyway (the audit sealer digests it).
type DecodeError struct {
	Seq     uint64
	Subject string
	Err     error
	Header  nats.Header
	Data    []byte
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("events: cannot decode event %d on %q: %v", e.Seq, e.Subject, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// transient reports whether err means NATS or the stream did not answer,
// as opposed to answering no.
func transient(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == 503 {
		return true
	}
	for _, t := range []error{
		nats.ErrNoResponders, jetstream.ErrNoStreamResponse, nats.ErrTimeout, jetstream.ErrAsyncPublishTimeout,
		context.DeadlineExceeded, nats.ErrConnectionClosed, nats.ErrConnectionDraining,
		nats.ErrConnectionReconnecting, nats.ErrDisconnected, nats.ErrNoServers,
		jetstream.ErrJetStreamNotEnabled, jetstream.ErrJetStreamNotEnabledForAccount,
	} {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// wrapNATS adds ErrUnavailable to transient errors and names the operation.
func wrapNATS(op string, err error) error {
	if transient(err) {
		return fmt.Errorf("events: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("events: %s: %w", op, err)
}
