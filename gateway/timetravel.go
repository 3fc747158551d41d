package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/history"
)

// exactResourceVersion reads resourceVersionMatch: for Exact, the
// resourceVersion the list must be served at.
func exactResourceVersion(r *http.Request) (uint64, bool, error) {
	q := r.URL.Query()
	switch m := q.Get("resourceVersionMatch"); m {
	case "", string(metav1.ResourceVersionMatchNotOlderThan):
		return 0, false, nil
	case string(metav1.ResourceVersionMatchExact):
		rv := q.Get("resourceVersion")
		n, err := strconv.ParseUint(rv, 10, 64)
		if err != nil || n == 0 {
			return 0, false, apierrors.NewBadRequest(fmt.Sprintf("resourceVersionMatch=Exact needs a resourceVersion greater than 0, not %q", rv))
		}
		return n, true, nil
	default:
		return 0, false, apierrors.NewBadRequest(fmt.Sprintf("resourceVersionMatch must be Exact or NotOlderThan, not %q", m))
	}
}

// listAt is t's collection, selected by f, as it was at resourceVersion at.
func (s *Server) listAt(ctx context.Context, t target, f filter, at uint64) ([]*projections.Object, error) {
	cur, curSeq := s.proj.List(t.kind.Group, t.kind.Resource, t.namespace)
	objs, ok := s.rewind(t, cur, curSeq, at)
	if !ok {
		var err error
		objs, err = s.listAtIndex(ctx, t, at)
		if err != nil {
			return nil, travelError(err)
		}
	}
	if objs == nil {
		var err error
		objs, err = history.ListAt(ctx, s.log, cur, curSeq, events.FilterSubject(t.kind.Group, t.kind.Resource, t.namespace), at)
		if err != nil {
			return nil, travelError(err)
		}
	}
	if f.everything() {
		return objs, nil
	}
	out := objs[:0]
	for _, o := range objs {
		if f.matches(o) {
			out = append(out, o)
		}
	}
	return out, nil
}

// rewind is t's collection at resourceVersion at, from memory, when the
// projection still keeps every change after at (like the watch cache of
// kube-apiserver, its last Options.History changes); ok=false sends the
// caller to the log.
func (s *Server) rewind(t target, cur []*projections.Object, curSeq, at uint64) ([]*projections.Object, bool) {
	if at > curSeq {
		return nil, false // the log path answers the error
	}
	w, err := s.proj.Watch(at)
	if err != nil {
		return nil, false
	}
	var changes []projections.Change
	if at < curSeq {
		// Next returns every kept change after at at once; a cancelled
		// context only stops it from waiting for more.
		done, cancel := context.WithCancel(context.Background())
		cancel()
		chs, err := w.Next(done)
		if errors.Is(err, projections.ErrExpired) {
			return nil, false
		}
		changes = chs
	}
	match := func(ref events.Ref) bool {
		return ref.Group == t.kind.Group && ref.Resource == t.kind.Resource && (t.namespace == "" || ref.Namespace == t.namespace)
	}
	return history.Rewind(cur, changes, at, curSeq, match), true
}

// listAtIndex is t's collection at resourceVersion at from the
// projection's revision index, the changed objects read from the log by
// sequence; nil (and no error) when the index does not reach back to at.
// The three ways to a past list, cheapest first: rewind the projection's
// recent changes in memory (rewind), this, and the log alone
// (history.ListAt), whose "last event per subject up to at" requests the
// server answers by walking back through its blocks once per subject.
func (s *Server) listAtIndex(ctx context.Context, t target, at uint64) ([]*projections.Object, error) {
	revs, ok := s.proj.AtIndex(t.kind.Group, t.kind.Resource, t.namespace, at)
	if !ok {
		return nil, nil
	}
	if err := history.CheckRetained(ctx, s.log, at); err != nil {
		return nil, err
	}
	objs, err := history.ObjectsAt(ctx, s.log, revs)
	if objs == nil && err == nil {
		objs = []*projections.Object{}
	}
	return objs, err
}

// travelError maps history's errors to API errors: a revision lost to
// retention is 410 Gone (Expired), one after the log's end is Kubernetes'
// "too large resource version", a bad time or revision 400.
func travelError(err error) error {
	switch {
	case errors.Is(err, history.ErrBeyondRetention):
		return apierrors.NewResourceExpired(err.Error())
	case errors.Is(err, history.ErrOutOfRange):
		return apierrors.NewBadRequest(err.Error())
	case errors.Is(err, events.ErrNotFound):
		return statusError(http.StatusNotFound, metav1.StatusReasonNotFound, err.Error())
	}
	return err
}

// resolveAt reads an "at" value: a resourceVersion or an RFC 3339 time.
func (s *Server) resolveAt(ctx context.Context, at string) (uint64, error) {
	if at == "" {
		return 0, apierrors.NewBadRequest("at is required: a resourceVersion or an RFC 3339 time")
	}
	if n, err := strconv.ParseUint(at, 10, 64); err == nil {
		if n == 0 {
			return 0, apierrors.NewBadRequest("resourceVersion 0 is before the first event")
		}
		last, err := s.log.LastSeq(ctx)
		if err != nil {
			return 0, err
		}
		if n > last {
			return 0, apierrors.NewBadRequest(fmt.Sprintf("resourceVersion %d is after the last event (%d)", n, last))
		}
		return n, nil
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("at %q is neither a resourceVersion nor an RFC 3339 time", at))
	}
	n, err := history.SeqAt(ctx, s.log, t, s.now())
	if err != nil {
		return 0, travelError(err)
	}
	return n, nil
}

// watchFromLog sends a watcher of t the changes after from that the
// projection no longer keeps, reading them from the log with the rules of
// filterChange, until the projection's own history covers the rest; it
// returns the projection watcher to continue with.
func (s *Server) watchFromLog(ctx context.Context, enc *watchEncoder, t target, f filter, from uint64) (*projections.Watcher, error) {
	filterSubj := events.FilterSubject(t.kind.Group, t.kind.Resource, t.namespace)
	// Whether an object matched the selectors before its first change in
	// the gap needs its state at from; without selectors, existing is enough.
	var before map[string]*projections.Object
	if f.everything() {
		if err := history.CheckRetained(ctx, s.log, from); err != nil {
			return nil, err
		}
	} else {
		cur, curSeq := s.proj.List(t.kind.Group, t.kind.Resource, t.namespace)
		objs, err := history.ListAt(ctx, s.log, cur, curSeq, filterSubj, from)
		if err != nil {
			return nil, err
		}
		before = make(map[string]*projections.Object, len(objs))
		for _, o := range objs {
			before[o.Ref.Subject()] = o
		}
	}
	latest := map[string]*projections.Object{} // nil value: deleted in the gap
	pos := from
	for {
		w, err := s.proj.Watch(pos)
		if !errors.Is(err, projections.ErrExpired) {
			return w, err
		}
		upto := s.proj.Seq()
		err = history.Scan(ctx, s.log, filterSubj, pos+1, upto, func(ev events.Event) error {
			obj, err := projections.BuildObject(ev)
			if err != nil {
				return nil // the projection skipped it too
			}
			subj := ev.Ref.Subject()
			prev, seen := latest[subj]
			switch {
			case seen:
			case before != nil:
				prev = before[subj]
			case ev.Type != events.ObjectCreated:
				prev = obj // it existed; without selectors only that matters
			}
			ch := projections.Change{Seq: ev.Seq, Object: obj, Prev: prev, Type: projections.Modified}
			switch {
			case ev.Type == events.ObjectDeleted && prev == nil:
				return nil // the projection refuses it
			case ev.Type == events.ObjectDeleted:
				ch.Type = projections.Deleted
				latest[subj] = nil
			case prev == nil:
				ch.Type = projections.Added
				latest[subj] = obj
			default:
				latest[subj] = obj
			}
			if typ, o := filterChange(t, f, ch); typ != "" {
				return enc.object(typ, o)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		pos = upto
	}
}
