package history

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wakehq/wake/events"
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

// Revisions reads every event of ref from the log (a subject-filtered
// batch read) and returns its revisions, each with the merge patch from the
// one before. ErrNotFound (events) when the object has no retained event.
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
	h := &History{Ref: ref, FirstRetained: first}
	var evs []events.Event
	err = Scan(ctx, log, ref.Subject(), 1, last, func(ev events.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	start := 0
	for start < len(evs) && evs[start].Seq <= opts.After {
		start++
	}
	h.Truncated = start > 0
	if opts.Limit > 0 && len(evs)-start > opts.Limit {
		start = len(evs) - opts.Limit
		h.Truncated = true
	}
	h.Revisions = make([]Revision, len(evs)-start)
	// Each diff needs only its predecessor's data, so the diffs are
	// computed in contiguous chunks on every core.
	workers := min(runtime.GOMAXPROCS(0), max(len(h.Revisions)/512, 1))
	chunk := (len(h.Revisions) + workers - 1) / workers
	var g errgroup.Group
	for lo := 0; lo < len(h.Revisions); lo += chunk {
		hi := min(lo+chunk, len(h.Revisions))
		g.Go(func() error {
			var prev map[string]json.RawMessage
			if i := start + lo - 1; i >= 0 {
				p, err := splitObject(evs[i].Data)
				if err != nil {
					return err
				}
				prev = p
			}
			for i := lo; i < hi; i++ {
				ev := evs[start+i]
				cur, err := splitObject(ev.Data)
				if err != nil {
					return fmt.Errorf("event %d: %w", ev.Seq, err)
				}
				base := prev
				if ev.Type == events.ObjectCreated || base == nil {
					base = map[string]json.RawMessage{}
				}
				patch, err := patchMaps(base, cur, true)
				if err != nil {
					return fmt.Errorf("event %d: %w", ev.Seq, err)
				}
				diff, _ := json.Marshal(patch)
				r := Revision{
					ResourceVersion: ev.Seq, Time: ev.Time, Change: ChangeOf(ev),
					Actor: ev.Actor, RequestID: ev.RequestID, Source: ev.Source, EventID: ev.ID, Diff: diff,
				}
				if ev.Detail != "" {
					r.Detail = json.RawMessage(ev.Detail)
				}
				h.Revisions[i] = r
				prev = cur
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if len(evs) > 0 {
		h.last = evs[len(evs)-1].Data
	}
	if len(h.Revisions) == 0 && !h.Truncated {
		return nil, fmt.Errorf("%w: no retained events for %s", events.ErrNotFound, ref)
	}
	return h, nil
}
