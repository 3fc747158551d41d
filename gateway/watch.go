package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wakehq/wake/gateway/tables"
	"github.com/wakehq/wake/projections"
)

// bookmarkEvery is how often a watch that allows bookmarks gets one.
const bookmarkEvery = 10 * time.Second

// maxWatchTimeout bounds a watch; clients start a new one after it.
const maxWatchTimeout = 30 * time.Minute

type watchEvent struct {
	Type   string          `json:"type"`
	Object json.RawMessage `json:"object"`
}

// watch streams the changes of a collection after a resourceVersion, as
// newline-delimited JSON watch events, straight from the projection's
// shared fan-out.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, t target) error {
	q := r.URL.Query()
	f, err := parseFilter(q, t.kind)
	if err != nil {
		return err
	}
	if t.name != "" {
		return methodNotAllowed(r, t)
	}
	lo := optionsOf(r.Context()).list
	timeout := maxWatchTimeout
	if n := lo.TimeoutSeconds; n != nil {
		if *n < 0 {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %d", *n))
		}
		if d := time.Duration(*n) * time.Second; d > 0 && d < timeout {
			timeout = d
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	rv := lo.ResourceVersion
	sendInitial := lo.SendInitialEvents != nil && *lo.SendInitialEvents
	var from uint64
	var initial []*projections.Object
	if rv == "" || rv == "0" || sendInitial {
		if rv == "" || sendInitial {
			if err := s.consistent(ctx); err != nil {
				return err
			}
		}
		initial, from = s.selected(t, f)
	} else {
		if from, err = strconv.ParseUint(rv, 10, 64); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", rv))
		}
		if err := s.waitFresh(ctx, from); err != nil {
			return err
		}
	}
	// A resourceVersion older than the projection's in-memory history is
	// served from the log (watchFromLog), as long as retention keeps it.
	watcher, err := s.proj.Watch(from)
	fromLog := errors.Is(err, projections.ErrExpired)
	if err != nil && !fromLog {
		return err
	}

	enc := &watchEncoder{s: s, w: w, t: t, accept: parseAccept(r), includeObject: q.Get("includeObject")}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flush := func() { http.NewResponseController(w).Flush() }

	for _, o := range initial {
		if err := enc.object("ADDED", o); err != nil {
			return nil
		}
	}
	if sendInitial {
		enc.bookmark(from, true)
	}
	if fromLog {
		if watcher, err = s.watchFromLog(ctx, enc, t, f, from); err != nil {
			enc.status(toStatus(travelError(err), t.gr(), "").Status())
			flush()
			return nil
		}
	}
	flush()

	bookmarks := lo.AllowWatchBookmarks
	lastBookmark := time.Now()
	for {
		batchCtx := ctx
		var cancelBatch context.CancelFunc = func() {}
		if bookmarks {
			batchCtx, cancelBatch = context.WithTimeout(ctx, bookmarkEvery)
		}
		changes, err := watcher.Next(batchCtx)
		cancelBatch()
		switch {
		case errors.Is(err, projections.ErrExpired):
			// The watcher fell behind the in-memory history: catch up
			// from the log.
			if watcher, err = s.watchFromLog(ctx, enc, t, f, watcher.Pos()); err != nil {
				enc.status(toStatus(travelError(err), t.gr(), "").Status())
				flush()
				return nil
			}
			continue
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			// The batch deadline passed: time for a bookmark.
		}
		for _, ch := range changes {
			if typ, obj := filterChange(t, f, ch); typ != "" {
				if enc.object(typ, obj) != nil {
					return nil
				}
			}
		}
		if bookmarks && time.Since(lastBookmark) >= bookmarkEvery {
			enc.bookmark(watcher.Pos(), false)
			lastBookmark = time.Now()
		}
		flush()
	}
}

// freshWait is how long a read from a resourceVersion the projection has
// not reached waits for it: kube-apiserver's watch cache waits 3 s before
// it answers "Too large resource version".
const freshWait = 3 * time.Second

// waitFresh waits, at most freshWait, until the projection has applied rv.
func (s *Server) waitFresh(ctx context.Context, rv uint64) error {
	wctx, cancel := context.WithTimeout(ctx, freshWait)
	defer cancel()
	err := s.proj.WaitFor(wctx, rv)
	if err != nil && ctx.Err() == nil {
		return tooLargeResourceVersion(rv, s.proj.Seq())
	}
	return err
}

// tooLargeResourceVersion is kube-apiserver's answer to a read from a
// resourceVersion it has not reached: 504 Timeout with the cause
// ResourceVersionTooLarge, which client-go's reflector recognises.
func tooLargeResourceVersion(rv, current uint64) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", rv, current), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: metav1.CauseTypeResourceVersionTooLarge, Message: "Too large resource version"}}
	return err
}

// filterChange decides what a watcher of t with filter f sees of a change:
// an object entering the selection is ADDED, one leaving it DELETED.
func filterChange(t target, f filter, ch projections.Change) (string, *projections.Object) {
	ref := ch.Object.Ref
	if ref.Group != t.kind.Group || ref.Resource != t.kind.Resource {
		return "", nil
	}
	if t.namespace != "" && ref.Namespace != t.namespace {
		return "", nil
	}
	now := f.matches(ch.Object)
	before := ch.Prev != nil && f.matches(ch.Prev)
	switch {
	case ch.Type == projections.Deleted && (before || now):
		return "DELETED", ch.Object
	case ch.Type == projections.Deleted:
		return "", nil
	case now && before:
		return "MODIFIED", ch.Object
	case now:
		return "ADDED", ch.Object
	case before:
		return "DELETED", ch.Object
	}
	return "", nil
}

type watchEncoder struct {
	s             *Server
	w             http.ResponseWriter
	t             target
	accept        accept
	includeObject string
	sentColumns   bool
}

func (e *watchEncoder) write(typ string, obj []byte) error {
	b, err := json.Marshal(watchEvent{Type: typ, Object: obj})
	if err != nil {
		return err
	}
	_, err = e.w.Write(append(b, '\n'))
	return err
}

func (e *watchEncoder) object(typ string, o *projections.Object) error {
	switch {
	case e.accept.table:
		typed, err := decodeRaw(o.Raw, e.t.kind)
		if err != nil {
			return err
		}
		tbl, err := tables.Build(e.t.kind, []runtime.Object{typed}, e.includeObject, e.s.now())
		if err != nil {
			return err
		}
		if e.sentColumns {
			tbl.ColumnDefinitions = nil
		}
		e.sentColumns = true
		tbl.ResourceVersion = strconv.FormatUint(o.Seq, 10)
		return e.write(typ, mustJSON(tbl))
	case e.accept.metadata:
		pm, err := partialMetadata(o.Raw)
		if err != nil {
			return err
		}
		return e.write(typ, mustJSON(pm))
	}
	return e.write(typ, o.Raw)
}

// bookmark tells the client it has seen everything up to seq.
func (e *watchEncoder) bookmark(seq uint64, initialEnd bool) {
	m := map[string]any{"resourceVersion": strconv.FormatUint(seq, 10)}
	if initialEnd {
		m["annotations"] = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	}
	obj := map[string]any{"kind": e.t.kind.Kind, "apiVersion": e.t.kind.APIVersion(), "metadata": m}
	if e.accept.table || e.accept.metadata {
		obj["kind"], obj["apiVersion"] = "PartialObjectMetadata", "meta.k8s.io/v1"
		if e.accept.table {
			obj["kind"] = "Table"
		}
	}
	e.write("BOOKMARK", mustJSON(obj))
}

func (e *watchEncoder) status(st metav1.Status) {
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	e.write("ERROR", mustJSON(st))
}
