package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/nats-io/nats.go/jetstream"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/audit"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/history"
)

// WakeGroup is the API group of wake's own features, beside the Kubernetes
// API and behind the same authentication:
//
//	GET /apis/wake.io/v1/history/{group}/{resource}/{namespace}/{name}[?limit=N&continue=T&after=RV]
//	GET /apis/wake.io/v1/blame/{group}/{resource}/{namespace}/{name}
//	GET /apis/wake.io/v1/diff/{group}/{resource}/{namespace}/{name}?from=RV&to=RV
//	GET /apis/wake.io/v1/objects/{group}/{resource}/{namespace}[/{name}]?at=RV|RFC3339[&limit=N&continue=T]
//	GET /apis/wake.io/v1/resourceversion?at=RFC3339
//	GET /apis/wake.io/v1/events?after=RV&since=RFC3339&kind=&type=&actor=&follow=true
//	GET /apis/wake.io/v1/replay?to=RV
//	GET /apis/wake.io/v1/audit/verify
//
// {group} is "core" for the core group; {namespace} is "_" for a
// cluster-scoped object, and for a list across all namespaces. History and
// lists at a revision are paged with limit and continue as Kubernetes
// lists are (see history_page.go).
const WakeGroup = "wake.io"

// wakeAPIVersion is the apiVersion of wake's own documents.
const wakeAPIVersion = WakeGroup + "/v1"

// routeWake serves wake's API group.
func (s *Server) routeWake(r chi.Router) {
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodGet && strings.TrimSuffix(req.URL.Path, "/") == "/apis/"+wakeAPIVersion {
				// Discovery answers before the projection is ready, as the
				// Kubernetes groups' does.
				writeRaw(w, http.StatusOK, s.discovery.resources[wakeAPIVersion])
				return
			}
			select {
			case <-s.proj.Ready():
			default:
				writeError(w, req, errNotReady, schema.GroupResource{}, "")
				return
			}
			if req.Method != http.MethodGet {
				writeError(w, req, apierrors.NewMethodNotSupported(schema.GroupResource{Group: WakeGroup}, req.Method), schema.GroupResource{}, "")
				return
			}
			if !strings.HasSuffix(req.URL.Path, "/events") || !queryBool(req.URL.Query(), "follow") {
				ctx, cancel := context.WithTimeout(req.Context(), s.requestTimeout(req))
				defer cancel()
				req = req.WithContext(ctx)
			}
			next.ServeHTTP(w, req)
		})
	})
	r.Get("/history/{group}/{resource}/{namespace}/{name}", s.wakeHandler(s.serveHistory))
	r.Get("/blame/{group}/{resource}/{namespace}/{name}", s.wakeHandler(s.serveBlame))
	r.Get("/diff/{group}/{resource}/{namespace}/{name}", s.wakeHandler(s.serveDiff))
	r.Get("/objects/{group}/{resource}/{namespace}", s.wakeHandler(s.serveObjectsAt))
	r.Get("/objects/{group}/{resource}/{namespace}/{name}", s.wakeHandler(s.serveObjectsAt))
	r.Get("/resourceversion", s.wakeHandler(s.serveResourceVersion))
	r.Get("/events", adminOnly("events", s.wakeHandler(s.serveEvents)))
	r.Get("/replay", adminOnly("replay", s.wakeHandler(s.serveReplay)))
	r.Get("/audit/verify", adminOnly("audit", s.wakeHandler(s.serveAuditVerify)))
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, req, notFoundPath(req.URL.Path), schema.GroupResource{}, "")
	})
}

// AdminGroup is the group whose members may read the whole log: every
// event of every kind, Secrets included.
const AdminGroup = "system:masters"

// adminOnly serves the whole log (the event feed, replay, audit) to
// admins only, and 403 to everyone else.
func adminOnly(resource string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		if !slices.Contains(u.Groups, AdminGroup) {
			err := apierrors.NewForbidden(schema.GroupResource{Group: WakeGroup, Resource: resource}, "",
				fmt.Errorf("the whole log is for members of %s only", AdminGroup))
			err.ErrStatus.Message = fmt.Sprintf("%s is forbidden: User %q cannot get resource %q in API group %q: the whole log is for members of %s only",
				resource, u.Name, resource, WakeGroup, AdminGroup)
			writeError(w, r, err, schema.GroupResource{Group: WakeGroup, Resource: resource}, "")
			return
		}
		next(w, r)
	}
}

func (s *Server) wakeHandler(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			writeError(w, r, travelError(err), schema.GroupResource{Group: WakeGroup}, "")
		}
	}
}

// wakeTarget reads {group}/{resource}/{namespace}[/{name}].
func wakeTarget(r *http.Request) (target, error) {
	group, resource := chi.URLParam(r, "group"), chi.URLParam(r, "resource")
	if group == "core" {
		group = ""
	}
	k, ok := kinds.ByResource(group, resource)
	if !ok {
		return target{}, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: resource}, "")
	}
	t := target{kind: k, namespace: chi.URLParam(r, "namespace"), name: chi.URLParam(r, "name")}
	if t.namespace == "_" {
		t.namespace = ""
	}
	if t.name != "" && k.Namespaced && t.namespace == "" {
		return t, apierrors.NewBadRequest(fmt.Sprintf("%s is namespaced: name a namespace, not _", k.Resource))
	}
	if !k.Namespaced && t.namespace != "" {
		return t, apierrors.NewBadRequest(fmt.Sprintf("%s is cluster-scoped: the namespace is _", k.Resource))
	}
	return t, nil
}

func queryUint(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("%s must be a non-negative integer, not %q", name, v))
	}
	return n, nil
}

// historyDoc is the answer of /history.
type historyDoc struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Object     struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Namespace  string `json:"namespace,omitempty"`
		Name       string `json:"name"`
	} `json:"object"`
	*history.History
}

func (s *Server) serveHistory(w http.ResponseWriter, r *http.Request) error {
	t, err := wakeTarget(r)
	if err != nil {
		return err
	}
	var opts history.Options
	if opts.After, err = queryUint(r, "after"); err != nil {
		return err
	}
	if opts.Limit, err = pageLimit(r); err != nil {
		return err
	}
	tok, err := continueToken(r)
	if err != nil {
		return err
	}
	if tok != nil {
		if tok.Before <= 1 {
			return apierrors.NewBadRequest("continue token is not a history token")
		}
		opts.Upto = tok.Before - 1 // the page before the last one returned
	}
	h, err := history.Revisions(r.Context(), s.log, t.ref(), opts)
	if err != nil {
		return err
	}
	var next string
	if opts.Limit > 0 && h.Truncated && len(h.Revisions) == opts.Limit {
		next = pageToken{Before: h.Revisions[0].ResourceVersion}.encode()
	}
	// The same document as json.Marshal(historyDoc) gives, written in one
	// pass (see history.History.AppendJSON).
	var obj historyDoc
	obj.Object.APIVersion, obj.Object.Kind = t.kind.APIVersion(), t.kind.Kind
	obj.Object.Namespace, obj.Object.Name = t.namespace, t.name
	head, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	b := make([]byte, 0, 256+len(h.Revisions)*256)
	b = append(b, `{"kind":"History","apiVersion":"`+wakeAPIVersion+`","object":`...)
	b = append(b, head...)
	if next != "" {
		b = append(b, `,"metadata":{"continue":"`+next+`"}`...)
	}
	b = append(h.AppendJSON(append(b, ',')), '}')
	writeRaw(w, http.StatusOK, b)
	return nil
}

func (s *Server) serveBlame(w http.ResponseWriter, r *http.Request) error {
	t, err := wakeTarget(r)
	if err != nil {
		return err
	}
	h, err := history.Revisions(r.Context(), s.log, t.ref(), history.Options{})
	if err != nil {
		return err
	}
	lines, err := history.Blame(h.Revisions)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": "Blame", "apiVersion": wakeAPIVersion, "fields": lines})
	return nil
}

func (s *Server) serveDiff(w http.ResponseWriter, r *http.Request) error {
	t, err := wakeTarget(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	from, err := s.resolveAt(r.Context(), q.Get("from"))
	if err != nil {
		return err
	}
	to, err := s.resolveAt(r.Context(), q.Get("to"))
	if err != nil {
		return err
	}
	a, err := history.ObjectAt(r.Context(), s.log, t.ref(), from)
	if err != nil {
		return err
	}
	b, err := history.ObjectAt(r.Context(), s.log, t.ref(), to)
	if err != nil {
		return err
	}
	patch, err := history.MergePatch(a.Raw, b.Raw)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind": "Diff", "apiVersion": wakeAPIVersion,
		"from": strconv.FormatUint(a.Seq, 10), "to": strconv.FormatUint(b.Seq, 10), "patch": patch,
	})
	return nil
}

// serveObjectsAt is GET of an object or a list as of a resourceVersion or
// a time, in every form the Kubernetes GET and LIST answer (JSON, YAML,
// Table).
func (s *Server) serveObjectsAt(w http.ResponseWriter, r *http.Request) error {
	t, err := wakeTarget(r)
	if err != nil {
		return err
	}
	if err := s.consistent(r.Context()); err != nil {
		return err
	}
	tok, err := continueToken(r)
	if err != nil {
		return err
	}
	atParam := r.URL.Query().Get("at")
	if tok != nil && atParam == "" {
		atParam = strconv.FormatUint(tok.At, 10)
	}
	at, err := s.resolveAt(r.Context(), atParam)
	if err != nil {
		return err
	}
	if tok != nil && (t.name != "" || tok.At != at) {
		return apierrors.NewBadRequest(fmt.Sprintf("continue token is for a list at resourceVersion %d, not this request (at %d)", tok.At, at))
	}
	if t.name != "" {
		o, err := history.ObjectAt(r.Context(), s.log, t.ref(), at)
		if err != nil {
			return err
		}
		return s.writeObject(w, r, t.kind, http.StatusOK, o.Raw)
	}
	f, err := parseFilter(r.URL.Query(), t.kind)
	if err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	objs, err := s.listAt(r.Context(), t, f, at)
	if err != nil {
		return err
	}
	page, next, remaining := objectsPage(objs, at, limit, tok)
	return s.writeListPage(w, r, t, page, at, next, remaining)
}

func (s *Server) serveResourceVersion(w http.ResponseWriter, r *http.Request) error {
	at, err := s.resolveAt(r.Context(), r.URL.Query().Get("at"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"resourceVersion": strconv.FormatUint(at, 10)})
	return nil
}

// eventQuery is what /events selects.
type eventQuery struct {
	from          uint64
	filter        string
	types         map[events.Type]bool
	actor, change string
}

func (q eventQuery) matches(ev events.Event) bool {
	return (len(q.types) == 0 || q.types[ev.Type]) && (q.actor == "" || ev.Actor == q.actor) &&
		(q.change == "" || history.ChangeOf(ev) == q.change)
}

func (s *Server) parseEventQuery(r *http.Request) (eventQuery, error) {
	q := r.URL.Query()
	var eq eventQuery
	after, err := queryUint(r, "after")
	if err != nil {
		return eq, err
	}
	eq.from = after + 1
	if since := q.Get("since"); since != "" {
		t, err := time.Parse(time.RFC3339Nano, since)
		if err != nil {
			return eq, apierrors.NewBadRequest(fmt.Sprintf("since %q is not an RFC 3339 time", since))
		}
		n, err := history.SeqAt(r.Context(), s.log, t, s.now())
		if err != nil && !strings.Contains(err.Error(), "before the log begins") {
			return eq, err
		}
		eq.from = max(eq.from, n+1)
	}
	eq.filter = events.AllSubjects
	if kind := q.Get("kind"); kind != "" {
		k, ok := kinds.Resolve(kind)
		if !ok {
			return eq, apierrors.NewBadRequest(fmt.Sprintf("unknown kind %q", kind))
		}
		ns := q.Get("namespace")
		eq.filter = events.FilterSubject(k.Group, k.Resource, ns)
	}
	for _, typ := range strings.FieldsFunc(q.Get("type"), func(r rune) bool { return r == ',' }) {
		full := events.Type(typ)
		if !strings.HasPrefix(typ, events.TypePrefix) {
			full = events.Type(events.TypePrefix + "object." + typ + ".v1")
		}
		if !full.Known() {
			return eq, apierrors.NewBadRequest(fmt.Sprintf("unknown event type %q (created, updated, deleted or a full type)", typ))
		}
		if eq.types == nil {
			eq.types = map[events.Type]bool{}
		}
		eq.types[full] = true
	}
	eq.actor, eq.change = q.Get("actor"), q.Get("change")
	return eq, nil
}

// serveEvents streams events as CloudEvents in JSON (structured mode), one
// per line: those in the log now, then, with follow=true, new ones as they
// are appended.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) error {
	eq, err := s.parseEventQuery(r)
	if err != nil {
		return err
	}
	follow := queryBool(r.URL.Query(), "follow")
	limit, err := queryUint(r, "limit")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/cloudevents-batch+json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	sent := uint64(0)
	errLimit := fmt.Errorf("limit reached")
	emit := func(ev events.Event) error {
		if !eq.matches(ev) {
			return nil
		}
		ce, err := ev.CloudEvent()
		if err != nil {
			return err
		}
		b, err := json.Marshal(ce)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
		if sent++; limit > 0 && sent >= limit {
			return errLimit
		}
		return nil
	}
	if !follow {
		last, err := s.log.LastSeq(r.Context())
		if err != nil {
			return err
		}
		if err := history.Scan(r.Context(), s.log, eq.filter, eq.from, last, emit); err != nil && err != errLimit {
			s.logger.Warn("events stream ended", "err", err)
		}
		return nil
	}
	// Follow: a live subscription; flush after each event.
	err = s.log.SubscribeSkipping(r.Context(), eq.from, eq.filter, func(ev events.Event) error {
		if err := emit(ev); err != nil {
			return err
		}
		return rc.Flush()
	}, func(*events.DecodeError) error { return nil }) // not an event: the projection quarantines it
	if err != nil && err != errLimit && r.Context().Err() == nil {
		s.logger.Warn("events stream ended", "err", err)
	}
	return nil
}

// replayDoc is the answer of /replay.
type replayDoc struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	// Seq is the resourceVersion every state was compared at.
	Seq      uint64 `json:"resourceVersion,string"`
	LiveHash string `json:"liveHash,omitempty"`
	LogHash  string `json:"logHash"`
	// Snapshot* describe the replay from the latest snapshot, when one at
	// or before Seq exists.
	SnapshotSeq  uint64 `json:"snapshotResourceVersion,string,omitempty"`
	SnapshotHash string `json:"snapshotHash,omitempty"`
	Objects      int    `json:"objects"`
	Skipped      int    `json:"skippedEvents"`
	Events       uint64 `json:"eventsReplayed"`
	Millis       int64  `json:"replayMillis"`
	Match        bool   `json:"match"`
	// Quarantined lists the messages up to Seq that the fold quarantined
	// (projections.Quarantined): not a failure of the fold, which skips
	// them alike everywhere, but listed for the operator.
	Quarantined []projections.Quarantined `json:"quarantined"`
	// FirstDifference names the first object (in subject order) that
	// differs, when Match is false.
	FirstDifference string `json:"firstDifference,omitempty"`
}

// serveReplay rebuilds the state from the log alone (and from the latest
// snapshot) and compares it with the live projection's state hash, at the
// projection's current resourceVersion, or at ?to= against the state
// rebuilt backwards from the present (ListAt).
func (s *Server) serveReplay(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	to, err := queryUint(r, "to")
	if err != nil {
		return err
	}
	liveSeq, liveHash := s.proj.Hash()
	doc := replayDoc{Kind: "Replay", APIVersion: wakeAPIVersion, Seq: liveSeq, LiveHash: liveHash}
	if to != 0 {
		if to > liveSeq {
			return apierrors.NewBadRequest(fmt.Sprintf("to %d is after the last applied event (%d)", to, liveSeq))
		}
		doc.Seq, doc.LiveHash = to, ""
	}
	t0 := time.Now()
	st, skipped, err := history.Replay(ctx, s.log, projections.NewState(), doc.Seq)
	if err != nil {
		return err
	}
	doc.Millis, doc.Events, doc.Skipped = time.Since(t0).Milliseconds(), doc.Seq, skipped
	doc.LogHash, doc.Objects = st.Hash(), st.Len()
	doc.Quarantined = append([]projections.Quarantined{}, st.Quarantined()...)
	doc.Match = true
	if doc.LiveHash != "" && doc.LogHash != doc.LiveHash {
		doc.Match = false
		doc.FirstDifference = s.firstLiveDifference(ctx, st)
	}
	if snap, err := s.loadSnapshot(ctx); err == nil && snap.Seq() <= doc.Seq {
		doc.SnapshotSeq = snap.Seq()
		fromSnap, _, err := history.Replay(ctx, s.log, snap, doc.Seq)
		if err != nil {
			return err
		}
		doc.SnapshotHash = fromSnap.Hash()
		if doc.SnapshotHash != doc.LogHash {
			doc.Match = false
			if doc.FirstDifference == "" {
				doc.FirstDifference, _ = history.FirstDifference(st, fromSnap)
			}
		}
	}
	if to != 0 {
		// The state at to, rebuilt backwards from the present, must agree.
		if diff := s.diffAt(ctx, st, to); diff != "" {
			doc.Match = false
			doc.FirstDifference = diff
		}
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

// loadSnapshot reads the latest snapshot, without creating the bucket.
func (s *Server) loadSnapshot(ctx context.Context) (*projections.State, error) {
	js := s.log.JetStream()
	store, err := js.ObjectStore(ctx, projections.SnapshotBucket)
	if err != nil {
		return nil, err
	}
	st, err := store.Status(ctx)
	if err != nil {
		return nil, err
	}
	snaps, err := projections.OpenSnapshots(ctx, js, st.Replicas(), st.Storage() == jetstream.MemoryStorage)
	if err != nil {
		return nil, err
	}
	return snaps.Load(ctx)
}

// firstLiveDifference names the first object (by subject) where a replayed
// state differs from the live projection, ignoring objects the live state
// changed after the replayed sequence.
func (s *Server) firstLiveDifference(ctx context.Context, replayed *projections.State) string {
	first := ""
	note := func(subj string) {
		if first == "" || subj < first {
			first = subj
		}
	}
	for _, k := range kinds.All() {
		live, _ := s.proj.List(k.Group, k.Resource, "")
		for _, o := range live {
			if o.Seq > replayed.Seq() {
				continue
			}
			if ro, ok := replayed.Get(o.Ref); !ok || ro.Seq != o.Seq || string(ro.Raw) != string(o.Raw) {
				note(o.Ref.Subject())
			}
		}
		for _, ro := range replayed.List(k.Group, k.Resource, "") {
			if _, ok := s.proj.Get(ro.Ref); !ok {
				if last, err := s.log.Last(ctx, ro.Ref); err == nil && last.Seq <= replayed.Seq() {
					note(ro.Ref.Subject())
				}
			}
		}
	}
	return first
}

// diffAt compares a replayed state with the lists at the same revision
// rebuilt backwards from the present (from the revision index where it
// reaches, else ListAt) for every kind, naming the first differing object.
func (s *Server) diffAt(ctx context.Context, replayed *projections.State, at uint64) string {
	first := ""
	for _, k := range kinds.All() {
		objs, err := s.listAtIndex(ctx, target{kind: k}, at)
		if objs == nil && err == nil {
			cur, curSeq := s.proj.List(k.Group, k.Resource, "")
			objs, err = history.ListAt(ctx, s.log, cur, curSeq, events.FilterSubject(k.Group, k.Resource, ""), at)
		}
		if err != nil {
			return fmt.Sprintf("%s: %v", k.Resource, err)
		}
		want := replayed.List(k.Group, k.Resource, "")
		for i := 0; i < max(len(objs), len(want)); i++ {
			var subj string
			switch {
			case i >= len(objs):
				subj = want[i].Ref.Subject()
			case i >= len(want):
				subj = objs[i].Ref.Subject()
			case objs[i].Ref != want[i].Ref || string(objs[i].Raw) != string(want[i].Raw):
				subj = min(objs[i].Ref.Subject(), want[i].Ref.Subject())
			default:
				continue
			}
			if first == "" || subj < first {
				first = subj
			}
			break
		}
	}
	return first
}

// serveAuditVerify checks the log against the audit seals (events/audit).
func (s *Server) serveAuditVerify(w http.ResponseWriter, r *http.Request) error {
	seals, err := audit.LookupSeals(r.Context(), s.log.JetStream())
	if errors.Is(err, audit.ErrNoSeals) {
		return apierrors.NewServiceUnavailable(err.Error())
	}
	if err != nil {
		return err
	}
	var trust audit.Trust
	if s.auditTrust != nil {
		if trust, err = s.auditTrust(); err != nil {
			return err
		}
	}
	rep, err := audit.Verify(r.Context(), s.log, seals, audit.VerifyOptions{Trust: trust, Now: s.now})
	if err != nil {
		return err
	}
	// The quarantined messages (the fold's record) beside the report,
	// whose chain checks are audit's own.
	quarantined := append([]projections.Quarantined{}, s.proj.Quarantined()...)
	writeJSON(w, http.StatusOK, map[string]any{"kind": "AuditVerification", "apiVersion": wakeAPIVersion, "report": rep, "quarantined": quarantined})
	return nil
}
