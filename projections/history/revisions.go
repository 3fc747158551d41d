package history

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections/logscan"
)

// Revision is one event of one object, as history shows it.
type Revision struct {
	ResourceVersion uint64    `json:"resourceVersion,string"`
	Time            time.Time `json:"time"`
	// Change is created, deleted, or for updates what changed: spec,
	// status, scale, metadata, binding, deletion.
	Change    string          `json:"change"`
	Actor     string          `json:"actor"`
	RequestID string          `json:"requestID"`
	Source    string          `json:"source"`
	EventID   string          `json:"eventID"`
	Detail    json.RawMessage `json:"detail,omitempty"`
	// Diff is the JSON merge patch from the previous revision (from {} for
	// the first one, and for a re-creation after a deletion).
	Diff json.RawMessage `json:"diff"`
}

// Options bound a history read.
type Options struct {
	// After skips revisions at or before this resourceVersion.
	After uint64
	// Upto skips revisions after this resourceVersion (0: up to the last).
	Upto uint64
	// Limit keeps only the newest Limit revisions (0: all).
	Limit int
}

// History is an object's revisions, oldest first.
type History struct {
	Ref       events.Ref `json:"-"`
	Revisions []Revision `json:"revisions"`
	// Truncated is set when revisions older than the first one returned
	// exist (Options.Limit or After cut them).
	Truncated bool `json:"truncated,omitempty"`
	// FirstRetained is the stream's first sequence: events before it were
	// discarded by retention, so a history may begin with an update.
	FirstRetained uint64 `json:"firstRetained,string"`
	// Last is the object's current state (its latest event's data), kept for
	// callers that continue from it (blame, diff).
	last []byte
}

// ChangeOf names what an event did: created, deleted or the update's change.
func ChangeOf(ev events.Event) string {
	switch ev.Type {
	case events.ObjectCreated:
		return "created"
	case events.ObjectDeleted:
		return "deleted"
	}
	return string(ev.Change)
}

// revisionChunk is how many revisions one worker diffs at a time while
// the log is still being read.
const revisionChunk = 1024

// Revisions reads every event of ref from the log (a subject-filtered
// consumer) and returns its revisions, each with the merge patch from the
// one before. ErrNotFound (events) when the object has no retained event.
//
// Diffs are computed while the log is read: every revisionChunk messages
// go to a worker with their predecessor, so reading and diffing overlap on
// all cores. Each message's headers are read for what a revision shows
// (see revisionOf), not through a full events.Decode: the data is only
// split into members, never decoded. A long range is read in two halves
// over two connections (scanSplit). Without After, a history of at least
// cacheMin revisions is kept and later continued from where it ended
// (see cached); callers must not modify the Revisions they get.
func Revisions(ctx context.Context, log *events.Log, ref events.Ref, opts Options) (*History, error) {
	if err := ref.Validate(); err != nil {
		return nil, err
	}
	first, last, err := bounds(ctx, log)
	if err != nil {
		return nil, err
	}
	if opts.Upto != 0 && opts.Upto < last {
		last = opts.Upto
	}
	if opts.After == 0 {
		if h, ok, err := fromCache(ctx, log, ref, opts, first, last); ok || err != nil {
			return h, err
		}
	}
	h := &History{Ref: ref, FirstRetained: first}
	if opts.After > 0 {
		// Revisions at or before After exist: the answer is truncated.
		err := lastUpTo(ctx, log, []string{ref.Subject()}, opts.After, func(rawMsg) error {
			h.Truncated = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var (
		g      errgroup.Group
		chunks [][]Revision
		msgs   []rawMsg
		prev   *rawMsg
	)
	g.SetLimit(runtime.GOMAXPROCS(0))
	flush := func() {
		if len(msgs) == 0 {
			return
		}
		out := make([]Revision, len(msgs))
		chunks = append(chunks, out)
		batch, before := msgs, prev
		g.Go(func() error { return diffChunk(before, batch, out) })
		prev, msgs = &batch[len(batch)-1], nil
	}
	var lastData []byte
	add := func(m rawMsg) error {
		msgs = append(msgs, m)
		lastData = m.Data
		if opts.Limit == 0 && len(msgs) == revisionChunk {
			flush()
		}
		return nil
	}
	err = scanSplit(ctx, log, ref.Subject(), opts.After+1, last, add)
	if err != nil {
		_ = g.Wait()
		return nil, err
	}
	if opts.Limit > 0 && len(msgs) > opts.Limit {
		// Only the newest Limit are diffed, from the one before them.
		cut := len(msgs) - opts.Limit
		prev, msgs = &msgs[cut-1], msgs[cut:]
		h.Truncated = true
	}
	flush()
	if err := g.Wait(); err != nil {
		return nil, err
	}
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	h.Revisions = make([]Revision, 0, n)
	for _, c := range chunks {
		h.Revisions = append(h.Revisions, revisionsOnly(c)...)
	}
	h.last = lastData
	if opts.After == 0 && !h.Truncated && len(h.Revisions) >= cacheMin && prev != nil {
		cachePut(cacheKey{log, ref}, &cached{first: first, upto: last, revs: h.Revisions, last: *prev})
	}
	if len(h.Revisions) == 0 && !h.Truncated {
		return nil, fmt.Errorf("%w: no retained events for %s", events.ErrNotFound, ref)
	}
	return h, nil
}

// splitMin is the shortest range of sequences a history reads in two
// halves at once (see scanSplit).
const splitMin = 4096

// scanSplit is scan, reading the second half of a long range over a
// second connection while fn takes the first half: a client parses
// headers on one goroutine per connection, the larger part of reading.
// fn sees every message in order; it must not stop the read early.
func scanSplit(ctx context.Context, log *events.Log, filter string, from, to uint64, fn func(rawMsg) error) error {
	conn2, ok := (*nats.Conn)(nil), false
	if to >= from && to-from+1 >= splitMin && runtime.GOMAXPROCS(0) > 1 {
		conn2, ok = logscan.SharedReader(log)
	}
	if !ok {
		return scan(ctx, log, filter, from, to, fn)
	}
	mid := from + (to-from)/2
	var late []rawMsg
	lateErr := make(chan error, 1)
	go func() {
		lateErr <- logscan.ConsumeOn(ctx, log, conn2, filter, mid+1, to, false, func(m rawMsg) error {
			late = append(late, m)
			return nil
		})
	}()
	err := scan(ctx, log, filter, from, mid, fn)
	if err2 := <-lateErr; err == nil {
		err = err2
	}
	if err != nil {
		return err
	}
	for _, m := range late {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// diffChunk fills out with the revisions of msgs, prev being the message
// before msgs[0] (nil for the first). A message that is not a revision
// (it does not decode: the projection quarantines it) leaves a zero
// Revision in out and is diffed past, as if absent (revisionsOnly drops
// it); one as prev makes the next revision's diff from the empty object.
func diffChunk(prev *rawMsg, msgs []rawMsg, out []Revision) error {
	var base map[string]json.RawMessage
	if prev != nil {
		if _, _, err := revisionOf(*prev); err == nil {
			base, _ = splitObject(prev.Data)
		}
	}
	for i, m := range msgs {
		r, typ, err := revisionOf(m)
		if err != nil {
			continue
		}
		cur, err := splitObject(m.Data)
		if err != nil {
			continue
		}
		if typ == events.ObjectCreated || base == nil {
			base = map[string]json.RawMessage{}
		}
		patch, err := patchMaps(base, cur, true)
		if err != nil {
			return fmt.Errorf("event %d: %w", m.Seq, err)
		}
		r.Diff = marshalMembers(patch)
		out[i] = r
		base = cur
	}
	return nil
}

// revisionOf reads a revision's attributes from a message's headers. It
// checks what a revision shows (a known type, the time, id, actor and
// request id); the rest of events.Decode's checks guard the fold, and the
// data is checked as an object when it is split.
func revisionOf(m rawMsg) (Revision, events.Type, error) {
	bad := func(err error) (Revision, events.Type, error) {
		return Revision{}, "", &events.DecodeError{Seq: m.Seq, Subject: m.Subject, Err: err}
	}
	h := m.Header
	typ := events.Type(h.Get(events.HeaderType))
	if !typ.Known() {
		return bad(fmt.Errorf("%w %q", events.ErrUnknownType, typ))
	}
	t, err := time.Parse(time.RFC3339Nano, h.Get(events.HeaderTime))
	if err != nil {
		return bad(fmt.Errorf("%w: %s: %w", events.ErrInvalid, events.HeaderTime, err))
	}
	r := Revision{
		ResourceVersion: m.Seq, Time: t.UTC(), Actor: h.Get(events.HeaderActor), RequestID: h.Get(events.HeaderRequestID),
		Source: h.Get(events.HeaderSource), EventID: h.Get(events.HeaderID),
	}
	if r.Actor == "" || r.RequestID == "" || r.EventID == "" {
		return bad(fmt.Errorf("%w: an event needs an id, an actor and a request id", events.ErrInvalid))
	}
	r.Change = ChangeOf(events.Event{Type: typ, Change: events.Change(h.Get(events.HeaderChange))})
	if d := h.Get(events.HeaderDetail); d != "" {
		r.Detail = json.RawMessage(d)
	}
	return r, typ, nil
}

// revisionsOnly drops the zero Revisions diffChunk left for quarantined
// messages, in place.
func revisionsOnly(rs []Revision) []Revision {
	out := rs[:0]
	for _, r := range rs {
		if r.ResourceVersion != 0 {
			out = append(out, r)
		}
	}
	return out
}
