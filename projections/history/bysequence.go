package history

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// ObjectsAt turns revisions from the projection's revision index
// (Projection.AtIndex) into the objects as they were: the live ones where
// the revision is still the object's latest, the others built from their
// event, read from the log by sequence (every request sent at once, see
// getSeqs). An event the log no longer holds is ErrBeyondRetention; a
// message the fold quarantines is left out of the answer.
func ObjectsAt(ctx context.Context, log *events.Log, revs []projections.Revision) ([]*projections.Object, error) {
	out := make([]*projections.Object, len(revs))
	var seqs []uint64
	slot := map[uint64]int{}
	for i, r := range revs {
		if r.Live != nil {
			out[i] = r.Live
			continue
		}
		seqs = append(seqs, r.Seq)
		slot[r.Seq] = i
	}
	if len(seqs) == 0 {
		return out, nil
	}
	evs := make([]events.Event, 0, len(seqs))
	var d events.Decoder
	err := getSeqs(ctx, log, seqs, func(m rawMsg) error {
		if _, ok := slot[m.Seq]; !ok {
			return fmt.Errorf("direct get: asked for %d events, got event %d", len(seqs), m.Seq)
		}
		ev, err := m.DecodeWith(&d)
		if err == nil {
			evs = append(evs, ev)
		}
		return nil // not an event: quarantined, no object's revision
	})
	if err != nil {
		return nil, err
	}
	built, bad := buildAll(evs)
	for i, o := range built {
		if !bad[i] {
			out[slot[evs[i].Seq]] = o
		}
	}
	// The index records applied events only, but a caller may name a
	// message the fold quarantined: it is no object, and left out.
	return slices.DeleteFunc(out, func(o *projections.Object) bool { return o == nil }), nil
}

// getSeqs reads the stored messages at seqs with direct gets, sending
// up to getWindow requests before reading the first answer, so that the
// server answers them back to back instead of waiting a round trip for
// each. A sequence the stream no longer holds (discarded by retention) is
// ErrBeyondRetention.
func getSeqs(ctx context.Context, log *events.Log, seqs []uint64, fn func(rawMsg) error) error {
	nc := log.JetStream().Conn()
	// Not a response inbox: answers to many requests arrive on one
	// subscription (see logscan.ConsumeOn).
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("direct get: %w", err)
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	subject := "$JS.API.DIRECT.GET." + events.StreamName
	body := make([]byte, 0, 32)
	missing := 0
	for i, s := range seqs {
		body = append(strconv.AppendUint(append(body[:0], `{"seq":`...), s, 10), '}')
		if err := nc.PublishMsg(&nats.Msg{Subject: subject, Reply: inbox, Data: append([]byte(nil), body...)}); err != nil {
			return fmt.Errorf("direct get: %w", err)
		}
		// At most getWindow answers are waiting at a time: memory stays
		// bounded for a list of any size.
		if i+1 < len(seqs) && (i+1)%getWindow != 0 {
			continue
		}
		if err := readAnswers(ctx, sub, (i%getWindow)+1, &missing, fn); err != nil {
			return err
		}
	}
	if missing > 0 {
		s := slicesSorted(seqs)
		return fmt.Errorf("%w: %d of the events between %d and %d were discarded", ErrBeyondRetention, missing, s[0], s[len(s)-1])
	}
	return nil
}

// getWindow is how many direct gets getSeqs keeps outstanding.
var getWindow = 4096

// readAnswers reads n direct get answers from sub, counting the missing.
func readAnswers(ctx context.Context, sub *nats.Subscription, n int, missing *int, fn func(rawMsg) error) error {
	for range n {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return fmt.Errorf("direct get: %w", err)
		}
		switch status := m.Header.Get("Status"); status {
		case "":
		case "404":
			*missing++
			continue
		default:
			return fmt.Errorf("direct get: %s %s", status, m.Header.Get("Description"))
		}
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return fmt.Errorf("direct get: bad sequence header %q", m.Header.Get(jetstream.SequenceHeader))
		}
		ts, _ := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
		if err := fn(rawMsg{Subject: m.Header.Get(jetstream.SubjectHeader), Seq: seq, Time: ts, Header: m.Header, Data: m.Data}); err != nil {
			return err
		}
	}
	return nil
}

func slicesSorted(s []uint64) []uint64 {
	c := append([]uint64(nil), s...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return c
}
