package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
)

// pullBatch is how many messages one pull request asks for. A consumer
// delivers stored messages with their own headers and the metadata in the
// reply subject, about 2.5 times faster than batched direct gets (which
// build six more headers per message that the client must parse again).
const pullBatch = 8192

// errStop ends a read early without an error.
var errStop = errors.New("stop")

// consume calls fn for every stored message matching filter (""
// for all) with from <= seq <= to, in order, through an ephemeral pull
// consumer (no acks, in memory, deleted at the end). With headersOnly the
// server sends the headers without the data.
func consume(ctx context.Context, log *events.Log, filter string, from, to uint64, headersOnly bool, fn func(rawMsg) error) error {
	from = max(from, 1)
	if from > to {
		return nil
	}
	if filter == "" {
		filter = events.AllSubjects
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
	}
	cons, err := log.Stream().CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		AckPolicy:         jetstream.AckNonePolicy,
		HeadersOnly:       headersOnly,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, err)
	}
	name := cons.CachedInfo().Name
	nc := log.JetStream().Conn()
	defer func() {
		if nc.IsClosed() {
			return
		}
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = log.Stream().DeleteConsumer(dctx, name)
	}()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1)
	next := "$JS.API.CONSUMER.MSG.NEXT." + events.StreamName + "." + name
	var delivered uint64
	for {
		want := pullBatch
		if left := to - from + 1; left < uint64(want) {
			want = int(left) // the consumer may also see later subjects: only a bound
		}
		req, _ := json.Marshal(map[string]any{"batch": want, "no_wait": true})
		if err := nc.PublishMsg(&nats.Msg{Subject: next, Reply: inbox, Data: req}); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		got := 0
		for got < want {
			m, err := sub.NextMsgWithContext(ctx)
			if err != nil {
				return fmt.Errorf("read: %w", err)
			}
			if len(m.Data) == 0 && m.Header.Get("Status") != "" {
				switch m.Header.Get("Status") {
				case "404", "408": // nothing more now
					return nil
				case "409":
					if strings.Contains(m.Header.Get("Description"), "Exceeded MaxRequest") {
						return fmt.Errorf("read: %s", m.Header.Get("Description"))
					}
					return nil
				default:
					return fmt.Errorf("read: %s %s", m.Header.Get("Status"), m.Header.Get("Description"))
				}
			}
			got++
			seq, dseq, ts, pending, err := ackMeta(m.Reply)
			if err != nil {
				return err
			}
			if dseq != delivered+1 {
				return fmt.Errorf("read: message %d of the consumer was not delivered (got %d)", delivered+1, dseq)
			}
			delivered = dseq
			if seq > to {
				return nil
			}
			if err := fn(rawMsg{Subject: m.Subject, Seq: seq, Time: ts, Header: m.Header, Data: m.Data}); err != nil {
				if errors.Is(err, errStop) {
					return nil
				}
				return err
			}
			if seq == to || pending == 0 {
				return nil
			}
			from = seq + 1
		}
	}
}

// ackMeta reads the stream sequence, delivery sequence, time and pending
// count from a consumer message's reply subject, in either form:
// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending> or
// $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>[.<token>].
func ackMeta(reply string) (seq, dseq uint64, ts time.Time, pending uint64, err error) {
	tok := strings.Split(reply, ".")
	var i int
	switch {
	case len(tok) == 9 && tok[0] == "$JS" && tok[1] == "ACK":
		i = 5
	case len(tok) >= 11 && tok[0] == "$JS" && tok[1] == "ACK":
		i = 7
	default:
		return 0, 0, time.Time{}, 0, fmt.Errorf("read: not a consumer message (reply %q)", reply)
	}
	var nanos int64
	seq, err1 := strconv.ParseUint(tok[i], 10, 64)
	dseq, err2 := strconv.ParseUint(tok[i+1], 10, 64)
	nanos, err3 := strconv.ParseInt(tok[i+2], 10, 64)
	pending, err4 := strconv.ParseUint(tok[i+3], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return 0, 0, time.Time{}, 0, fmt.Errorf("read: reply %q: %w", reply, err)
	}
	return seq, dseq, time.Unix(0, nanos).UTC(), pending, nil
}
