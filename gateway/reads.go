package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/gateway/tables"
	"github.com/wakehq/wake/projections"
)

// consistent waits until the projection has applied everything the log held
// when the request arrived, so any gateway serves every acknowledged write.
func (s *Server) consistent(ctx context.Context) error {
	last, err := s.log.LastSeq(ctx)
	if err != nil {
		return err
	}
	return s.proj.WaitFor(ctx, last)
}

// current returns the live object a target names, or NotFound.
func (s *Server) current(t target) (*projections.Object, error) {
	o, ok := s.proj.Get(t.ref())
	if !ok {
		return nil, apierrors.NewNotFound(t.gr(), t.name)
	}
	return o, nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, t target) error {
	if err := s.consistent(r.Context()); err != nil {
		return err
	}
	o, err := s.current(t)
	if err != nil {
		return err
	}
	if t.subresource == "scale" {
		sc, err := s.scaleOf(t, o)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, sc)
		return nil
	}
	return s.writeObject(w, r, t.kind, http.StatusOK, o.Raw)
}

// writeObject writes one stored object in the form the client accepts.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, k kinds.Kind, code int, raw []byte) error {
	a := parseAccept(r)
	switch {
	case a.table:
		obj, err := decodeRaw(raw, k)
		if err != nil {
			return err
		}
		tbl, err := tables.Build(k, []runtime.Object{obj}, r.URL.Query().Get("includeObject"), s.now())
		if err != nil {
			return err
		}
		writeJSON(w, code, tbl)
	case a.metadata:
		pm, err := partialMetadata(raw)
		if err != nil {
			return err
		}
		writeJSON(w, code, pm)
	default:
		writeBody(w, a, code, raw)
	}
	return nil
}

func partialMetadata(raw []byte) (*metav1.PartialObjectMetadata, error) {
	pm := &metav1.PartialObjectMetadata{}
	if err := json.Unmarshal(raw, pm); err != nil {
		return nil, err
	}
	pm.TypeMeta = metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"}
	return pm, nil
}

// list serves a collection, in pages when the client asks for them
// (limit, continue; client-go's pager and kubectl's --chunk-size): the
// first page is the projection's list now, and its continue token pins
// that resourceVersion, so every later page is cut from the list as it
// was then (listAt) and the pages together are one consistent snapshot,
// as Kubernetes pages are. A token whose revision retention discarded is
// 410 Expired; the client lists again.
func (s *Server) list(w http.ResponseWriter, r *http.Request, t target) error {
	f, err := parseFilter(r.URL.Query(), t.kind)
	if err != nil {
		return err
	}
	lo := optionsOf(r.Context()).list
	tok, err := continueToken(r)
	if err != nil {
		return err
	}
	if tok != nil {
		if err := checkContinue(lo, tok); err != nil {
			return err
		}
	}
	if err := s.consistent(r.Context()); err != nil {
		return err
	}
	at, exact, err := exactResourceVersion(r)
	if err != nil {
		return err
	}
	if rv := lo.ResourceVersion; !exact && rv != "" && rv != "0" {
		// Not older than rv: a revision the log has not reached waits
		// for it, then is "Too large resource version" (watch.go).
		n, err := strconv.ParseUint(rv, 10, 64)
		if err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", rv))
		}
		if err := s.waitFresh(r.Context(), n); err != nil {
			return err
		}
	}
	var objs []*projections.Object
	var seq uint64
	switch {
	case tok != nil:
		exact, at = true, tok.At
		fallthrough
	case exact:
		// resourceVersionMatch=Exact, or a later page: the list as it
		// was at that revision, rebuilt from the log (see timetravel.go).
		if objs, err = s.listAt(r.Context(), t, f, at); err != nil {
			return err
		}
		seq = at
	case wantsDeletedRevisions(r, t):
		// kubectl rollout history|undo: the revisions the log shows
		// deleted too (see rollout_ghosts.go), in one page.
		if objs, seq, err = s.selectedWithDeleted(r.Context(), t, f); err != nil {
			return err
		}
		return s.writeList(w, r, t, objs, seq)
	default:
		objs, seq = s.selected(t, f)
	}
	limit := int(min(max(lo.Limit, 0), 1<<20))
	if lo.ResourceVersion == "0" && tok == nil {
		// "Any revision" is kube-apiserver's watch cache, which answers
		// in one page whatever the limit: client-go's reflectors list so.
		limit = 0
	}
	page, next, remaining := objectsPage(objs, seq, limit, tok)
	return s.writeListPage(w, r, t, page, seq, next, remaining)
}

// checkContinue applies kube-apiserver's rules to a continue token (with
// validateListOptions'): it carries its own revision, so no
// resourceVersion may come with it, and it must be a list's token, not a
// history page's.
func checkContinue(lo metav1.ListOptions, tok *pageToken) error {
	if lo.ResourceVersion != "" && lo.ResourceVersion != "0" {
		return apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
	}
	if tok.At == 0 {
		return apierrors.NewBadRequest("continue token is not a list's: pass back metadata.continue as it came")
	}
	return nil
}

// writeList writes objects as a list current at seq, in the form the client
// accepts.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, t target, objs []*projections.Object, seq uint64) error {
	var err error
	rv := strconv.FormatUint(seq, 10)
	a := parseAccept(r)
	switch {
	case a.table:
		typed := make([]runtime.Object, len(objs))
		for i, o := range objs {
			if typed[i], err = decodeRaw(o.Raw, t.kind); err != nil {
				return err
			}
		}
		tbl, err := tables.Build(t.kind, typed, r.URL.Query().Get("includeObject"), s.now())
		if err != nil {
			return err
		}
		tbl.ResourceVersion = rv
		writeJSON(w, http.StatusOK, tbl)
	case a.metadata:
		list := metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadataList"}}
		list.ResourceVersion = rv
		for _, o := range objs {
			pm, err := partialMetadata(o.Raw)
			if err != nil {
				return err
			}
			list.Items = append(list.Items, *pm)
		}
		writeJSON(w, http.StatusOK, list)
	default:
		writeBody(w, a, http.StatusOK, encodeList(t.kind, rv, objs))
	}
	return nil
}

// selected returns the objects a list or watch target selects, and the
// resourceVersion the answer is current at.
func (s *Server) selected(t target, f filter) ([]*projections.Object, uint64) {
	objs, seq := s.proj.List(t.kind.Group, t.kind.Resource, t.namespace)
	if f.everything() {
		return objs, seq
	}
	out := objs[:0]
	for _, o := range objs {
		if f.matches(o) {
			out = append(out, o)
		}
	}
	return out, seq
}

// encodeList writes a List document around the stored objects' JSON without
// decoding them.
func encodeList(k kinds.Kind, rv string, objs []*projections.Object) []byte {
	size := 128
	for _, o := range objs {
		size += len(o.Raw) + 1
	}
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(`{"kind":"`)
	b.WriteString(k.ListKind())
	b.WriteString(`","apiVersion":"`)
	b.WriteString(k.APIVersion())
	b.WriteString(`","metadata":{"resourceVersion":"`)
	b.WriteString(rv)
	b.WriteString(`"},"items":[`)
	for i, o := range objs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(o.Raw)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// accessor is meta.Accessor for objects known to have ObjectMeta.
func accessor(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(err)
	}
	return m
}
