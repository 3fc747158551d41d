package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Pending is one event of a batch with the subject sequence it expects.
type Pending struct {
	Event  Event
	Expect uint64
}

// Result is the outcome of one event of a batch: its sequence, or why it
// was not written.
type Result struct {
	Seq uint64
	Err error
}

// AppendBatch appends events concurrently: every publish is sent before the
// first acknowledgement is awaited, so a batch costs about one round trip
// and the server can share fsyncs between its events. Each event keeps its
// own expectation, so events of different objects never interfere; events
// of the same object should not share a batch (the second would conflict).
// Results come back in the order of the batch.
func (l *Log) AppendBatch(ctx context.Context, batch []Pending) []Result {
	results := make([]Result, len(batch))
	futures := make([]jetstream.PubAckFuture, len(batch))
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i, p := range batch {
		if p.Event.Time.IsZero() {
			batch[i].Event.Time = now
		}
		msg, err := l.encode(batch[i].Event)
		if err != nil {
			results[i].Err = err
			continue
		}
		msg.Header[jetstream.ExpectedLastSubjSeqHeader] = []string{strconv.FormatUint(p.Expect, 10)}
		if futures[i], err = l.js.PublishMsgAsync(msg); err != nil {
			results[i].Err = wrapNATS("append", err)
		}
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			results[i].Seq = ack.Sequence
		case err := <-f.Err():
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) &&
				(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
					apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
				results[i].Seq, results[i].Err = l.conflict(ctx, batch[i].Event, batch[i].Expect, apiErr, true)
			} else {
				results[i].Err = wrapNATS(fmt.Sprintf("append %s %s", batch[i].Event.Type, batch[i].Event.Ref), err)
			}
		case <-ctx.Done():
			results[i].Err = wrapNATS("append", ctx.Err())
		}
	}
	return results
}
