package history

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// checkRetained fails when the state at seq may depend on discarded events.
func checkRetained(first, seq uint64) error {
	if first > 1 && seq < first-1 {
		return fmt.Errorf("%w: resourceVersion %d is older than the oldest retained event (%d)", ErrBeyondRetention, seq, first)
	}
	return nil
}

// ObjectAt is the object ref names as it was at resourceVersion seq:
// events.ErrNotFound if it did not exist then.
func ObjectAt(ctx context.Context, log *events.Log, ref events.Ref, seq uint64) (*projections.Object, error) {
	first, last, err := bounds(ctx, log)
	if err != nil {
		return nil, err
	}
	if seq > last {
		return nil, fmt.Errorf("%w: resourceVersion %d is after the last event (%d)", ErrOutOfRange, seq, last)
	}
	if err := checkRetained(first, seq); err != nil {
		return nil, err
	}
	var ev *events.Event
	poisoned := false
	err = lastUpTo(ctx, log, []string{ref.Subject()}, seq, func(m rawMsg) error {
		e, err := m.Decode()
		ev, poisoned = &e, err != nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	var o *projections.Object
	if !poisoned && ev != nil && ev.Type != events.ObjectDeleted {
		if o, err = projections.BuildObject(*ev); err != nil || projections.CheckKind(*ev) != nil {
			poisoned = true
		}
	}
	if poisoned {
		// The last message is quarantined: fold the object's messages as
		// the projection does, as if it were absent.
		if o, err = foldSubject(ctx, log, ref, seq); err != nil {
			return nil, err
		}
	}
	if o == nil {
		return nil, fmt.Errorf("%w: %s did not exist at resourceVersion %d", events.ErrNotFound, ref, seq)
	}
	return o, nil
}

// foldSubject is the object ref names as the projection's fold leaves it at
// resourceVersion seq (nil if absent), from its own retained messages:
// the way to its state when its last message there is quarantined.
func foldSubject(ctx context.Context, log *events.Log, ref events.Ref, seq uint64) (*projections.Object, error) {
	st := projections.NewState()
	err := scanPrepared(ctx, log, ref.Subject(), 1, seq, func(p projections.Prepared) error {
		st.ApplyPrepared(p) // quarantined messages are skipped as the projection skips them
		return nil
	})
	if err != nil {
		return nil, err
	}
	o, _ := st.Get(ref)
	return o, nil
}

// ListAt is a collection as it was at resourceVersion seq, sorted by
// namespace and name. current and currentSeq are the live collection and
// the resourceVersion it is current at (projections.Projection.List), with
// seq <= currentSeq; filter selects the same collection in the log
// (events.FilterSubject).
//
// It works backwards from current: objects no event after seq touched are
// unchanged; the touched subjects' state at seq comes from one "last message
// per subject up to seq" request per 1,000 subjects.
func ListAt(ctx context.Context, log *events.Log, current []*projections.Object, currentSeq uint64, filter string, seq uint64) ([]*projections.Object, error) {
	if seq > currentSeq {
		return nil, fmt.Errorf("%w: resourceVersion %d is after the last applied event (%d)", ErrOutOfRange, seq, currentSeq)
	}
	first, _, err := bounds(ctx, log)
	if err != nil {
		return nil, err
	}
	if err := checkRetained(first, seq); err != nil {
		return nil, err
	}
	// The first event after seq of each touched subject says whether the
	// object existed at seq (anything but a creation means it did).
	touched := map[string]events.Type{}
	var order []string
	err = consume(ctx, log, filter, seq+1, currentSeq, true, func(m rawMsg) error {
		if _, ok := touched[m.Subject]; !ok {
			touched[m.Subject] = events.Type(m.Header.Get(events.HeaderType))
			order = append(order, m.Subject)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*projections.Object, 0, len(current)+len(order))
	for _, o := range current {
		if _, ok := touched[o.Ref.Subject()]; !ok {
			out = append(out, o)
		}
	}
	seen := map[string]bool{}
	var evs []events.Event
	var poisoned []events.Ref // last message at seq quarantined
	err = lastUpTo(ctx, log, order, seq, func(m rawMsg) error {
		seen[m.Subject] = true
		ev, err := m.Decode()
		if err != nil {
			if ref, err := events.ParseSubject(m.Subject); err == nil {
				poisoned = append(poisoned, ref)
			}
			return nil
		}
		if ev.Type != events.ObjectDeleted {
			evs = append(evs, ev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	built, bad := buildAll(evs)
	for i, o := range built {
		if bad[i] {
			poisoned = append(poisoned, evs[i].Ref)
		} else {
			out = append(out, o)
		}
	}
	for _, ref := range poisoned {
		o, err := foldSubject(ctx, log, ref, seq)
		if err != nil {
			return nil, err
		}
		if o != nil {
			out = append(out, o)
		}
	}
	for _, subj := range order {
		// Not there at seq, yet its next message is no creation: its state
		// was discarded, unless the log is whole (then the message is one
		// the fold quarantines, an update of a missing object).
		if !seen[subj] && touched[subj] != events.ObjectCreated && first > 1 {
			return nil, fmt.Errorf("%w: the state of %s at resourceVersion %d was discarded", ErrBeyondRetention, subj, seq)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Ref, out[j].Ref
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out, nil
}

// Rewind is a collection as it was at resourceVersion at, rebuilt from
// memory: current is the collection at currentSeq (Projection.List), and
// changes hold every change with at < Seq <= currentSeq (Projection.Watch
// from at; others are ignored). match selects the collection's objects.
// The state at at of each object changed since is the Prev of its first
// change after at (none for an addition), so undoing the changes newest
// first gives it; nothing is read or decoded.
func Rewind(current []*projections.Object, changes []projections.Change, at, currentSeq uint64, match func(events.Ref) bool) []*projections.Object {
	before := map[events.Ref]*projections.Object{}
	for i := len(changes) - 1; i >= 0; i-- {
		ch := changes[i]
		if ch.Seq <= at || ch.Seq > currentSeq || ch.Object == nil || !match(ch.Object.Ref) {
			continue
		}
		if ch.Type == projections.Added {
			before[ch.Object.Ref] = nil
		} else {
			before[ch.Object.Ref] = ch.Prev
		}
	}
	out := make([]*projections.Object, 0, len(current)+len(before))
	for _, o := range current {
		if _, changed := before[o.Ref]; !changed {
			out = append(out, o)
		}
	}
	for _, o := range before {
		if o != nil {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Ref, out[j].Ref
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}

// buildAll builds the objects of decoded events (events.Decode checked
// their data) on every core: building is most of a time-travel list's
// cost. bad[i] is set where the fold would quarantine evs[i].
func buildAll(evs []events.Event) (out []*projections.Object, bad []bool) {
	out, bad = make([]*projections.Object, len(evs)), make([]bool, len(evs))
	workers := min(runtime.GOMAXPROCS(0), max(len(evs)/256, 1))
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for i := w; i < len(evs); i += workers {
				p := projections.PrepareDecoded(evs[i])
				out[i], bad[i] = p.Object, p.Err != nil || projections.CheckKind(evs[i]) != nil
			}
			return nil
		})
	}
	_ = g.Wait()
	return out, bad
}

// SeqAt is the resourceVersion in force at time t: the sequence of the last
// event stored at or before t (stream time). ErrOutOfRange for a time
// before the first retained event or in the future.
func SeqAt(ctx context.Context, log *events.Log, t, now time.Time) (uint64, error) {
	if t.After(now) {
		return 0, fmt.Errorf("%w: %s is in the future", ErrOutOfRange, t.Format(time.RFC3339))
	}
	first, last, err := bounds(ctx, log)
	if err != nil {
		return 0, err
	}
	after := t.Add(time.Nanosecond)
	var next uint64
	_, _, err = direct(ctx, log, getRequest{StartTime: &after}, func(m rawMsg) error {
		next = m.Seq
		return nil
	})
	if err != nil {
		return 0, err
	}
	if next == 0 {
		return last, nil
	}
	if next <= first {
		return 0, fmt.Errorf("%w: %s is before the log begins", ErrOutOfRange, t.Format(time.RFC3339Nano))
	}
	return next - 1, nil
}

// CheckRetained fails with ErrBeyondRetention when the state at seq may
// depend on events the stream has discarded.
func CheckRetained(ctx context.Context, log *events.Log, seq uint64) error {
	first, _, err := bounds(ctx, log)
	if err != nil {
		return err
	}
	return checkRetained(first, seq)
}
