package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
)

// ErrBeyondRetention means the events needed to answer were discarded by
// the stream's retention limits (age or size).
var ErrBeyondRetention = errors.New("beyond retention")

// ErrOutOfRange means a resourceVersion or time outside the log: before
// it begins or after its last event.
var ErrOutOfRange = errors.New("out of range")

// multiLastChunk is how many subjects one "last per subject" request names;
// the server answers at most 1,024 messages per request.
const multiLastChunk = 1000

// getRequest is JetStream's direct get request (JSApiMsgGetRequest).
type getRequest struct {
	Seq       uint64     `json:"seq,omitempty"`
	NextFor   string     `json:"next_by_subj,omitempty"`
	Batch     int        `json:"batch,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	MultiLast []string   `json:"multi_last,omitempty"`
	UpToSeq   uint64     `json:"up_to_seq,omitempty"`
}

// direct sends one direct get request and calls fn for every message of
// the answer. It returns the number of messages still pending after the
// batch (from the end-of-batch marker), and found=false when the server
// had nothing to send.
func direct(ctx context.Context, log *events.Log, req getRequest, fn func(rawMsg) error) (pending uint64, found bool, err error) {
	nc := log.JetStream().Conn()
	body, err := json.Marshal(req)
	if err != nil {
		return 0, false, err
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return 0, false, fmt.Errorf("direct get: %w", err)
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1)
	subject := "$JS.API.DIRECT.GET." + events.StreamName
	if err := nc.PublishMsg(&nats.Msg{Subject: subject, Reply: inbox, Data: body}); err != nil {
		return 0, false, fmt.Errorf("direct get: %w", err)
	}
	single := req.Batch == 0 && len(req.MultiLast) == 0
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return 0, found, fmt.Errorf("direct get: %w", err)
		}
		switch status := m.Header.Get("Status"); status {
		case "":
		case "204": // end of batch
			pending, _ = strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			return pending, found, nil
		case "404":
			return 0, found, nil
		default:
			return 0, found, fmt.Errorf("direct get: %s %s", status, m.Header.Get("Description"))
		}
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return 0, found, fmt.Errorf("direct get: bad sequence header %q", m.Header.Get(jetstream.SequenceHeader))
		}
		ts, _ := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
		found = true
		if err := fn(rawMsg{Subject: m.Header.Get(jetstream.SubjectHeader), Seq: seq, Time: ts, Header: m.Header, Data: m.Data}); err != nil {
			return 0, found, err
		}
		if single {
			return 0, found, nil
		}
	}
}

// scan calls fn for every stored message matching filter ("" for all) with
// from <= seq <= to, in order (see consume).
func scan(ctx context.Context, log *events.Log, filter string, from, to uint64, fn func(rawMsg) error) error {
	return consume(ctx, log, filter, from, to, false, fn)
}

// Scan calls fn for every event matching filter ("" for all, see
// events.FilterSubject) with from <= seq <= to, in order, decoded. It stops
// at fn's error; a message that does not decode is skipped (the
// projection quarantines it).
func Scan(ctx context.Context, log *events.Log, filter string, from, to uint64, fn func(events.Event) error) error {
	return scan(ctx, log, filter, from, to, func(m rawMsg) error {
		ev, err := m.Decode()
		if err != nil {
			return nil
		}
		return fn(ev)
	})
}

// lastUpTo calls fn with the last message at or before seq of each of the
// subjects (exact subjects or wildcards matching at most 1,024 objects).
func lastUpTo(ctx context.Context, log *events.Log, subjects []string, seq uint64, fn func(rawMsg) error) error {
	for len(subjects) > 0 {
		chunk := subjects[:min(len(subjects), multiLastChunk)]
		subjects = subjects[len(chunk):]
		if _, _, err := direct(ctx, log, getRequest{MultiLast: chunk, UpToSeq: seq}, fn); err != nil {
			return err
		}
	}
	return nil
}

// bounds are the stream's first and last sequences.
func bounds(ctx context.Context, log *events.Log) (first, last uint64, err error) {
	info, err := log.Stream().Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.FirstSeq, info.State.LastSeq, nil
}
