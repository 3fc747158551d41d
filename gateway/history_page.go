package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wakehq/wake/gateway/tables"
	"github.com/wakehq/wake/projections"
)

// Pagination of wake's history and time-travel lists, as Kubernetes pages
// lists: ?limit=N returns at most N items and, when more remain,
// metadata.continue, an opaque token to pass back as ?continue= for the
// next page (with the same limit or another). Tokens are versioned JSON in
// unpadded base64url; a client must not build or parse them.
//
//   - Time travel (/objects/...?at=): pages in list order (namespace, name).
//     The token carries the resourceVersion the list is at and the last
//     object returned, so every page shows the same revision, as a
//     Kubernetes continue token pins its list's resourceVersion; at may be
//     left out of the following requests.
//   - History (/history/...): ?limit=N alone keeps its meaning, the newest
//     N revisions (oldest first); the token names the oldest revision
//     returned, and the next page holds the N revisions before it. Walking
//     the pages walks back in time, and the log being append-only, pages
//     never overlap or miss a revision.

// pageToken is the decoded form of a continue token.
type pageToken struct {
	V int `json:"v"`
	// Time travel: the list's resourceVersion and the last object returned.
	At        uint64 `json:"at,omitempty,string"`
	Namespace string `json:"ns,omitempty"`
	Name      string `json:"name,omitempty"`
	// History: the oldest revision returned.
	Before uint64 `json:"before,omitempty,string"`
}

const pageTokenVersion = 1

func (p pageToken) encode() string {
	p.V = pageTokenVersion
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

// continueToken reads ?continue=, nil when absent.
func continueToken(r *http.Request) (*pageToken, error) {
	s := r.URL.Query().Get("continue")
	if s == "" {
		return nil, nil
	}
	bad := func(why string) error {
		return apierrors.NewBadRequest(fmt.Sprintf("continue token %q is not valid (%s): pass back metadata.continue as it came", s, why))
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad("not base64url")
	}
	var p pageToken
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, bad("not a token")
	}
	if p.V != pageTokenVersion {
		return nil, bad(fmt.Sprintf("version %d, this gateway reads %d", p.V, pageTokenVersion))
	}
	return &p, nil
}

// pageLimit reads ?limit= (0: no limit).
func pageLimit(r *http.Request) (int, error) {
	n, err := queryUint(r, "limit")
	return int(min(n, 1<<20)), err
}

// objectsPage cuts the page after tok (nil: the first page) of at most
// limit objects (sorted by namespace and name) and returns the token of
// the next page ("" on the last) and how many objects follow the page.
func objectsPage(objs []*projections.Object, at uint64, limit int, tok *pageToken) (page []*projections.Object, next string, remaining int) {
	if tok != nil {
		i := sort.Search(len(objs), func(i int) bool {
			r := objs[i].Ref
			return r.Namespace > tok.Namespace || r.Namespace == tok.Namespace && r.Name > tok.Name
		})
		objs = objs[i:]
	}
	if limit <= 0 || len(objs) <= limit {
		return objs, "", 0
	}
	last := objs[limit-1].Ref
	return objs[:limit], pageToken{At: at, Namespace: last.Namespace, Name: last.Name}.encode(), len(objs) - limit
}

// writeListPage is writeList with the list metadata of a page: continue
// and remainingItemCount, in every form writeList answers.
func (s *Server) writeListPage(w http.ResponseWriter, r *http.Request, t target, objs []*projections.Object, seq uint64, next string, remaining int) error {
	if next == "" {
		return s.writeList(w, r, t, objs, seq)
	}
	rv := strconv.FormatUint(seq, 10)
	left := int64(remaining)
	a := parseAccept(r)
	switch {
	case a.table:
		typed := make([]runtime.Object, len(objs))
		for i, o := range objs {
			var err error
			if typed[i], err = decodeRaw(o.Raw, t.kind); err != nil {
				return err
			}
		}
		tbl, err := tables.Build(t.kind, typed, r.URL.Query().Get("includeObject"), s.now())
		if err != nil {
			return err
		}
		tbl.ResourceVersion, tbl.Continue, tbl.RemainingItemCount = rv, next, &left
		writeJSON(w, http.StatusOK, tbl)
	case a.metadata:
		list := metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadataList"}}
		list.ResourceVersion, list.Continue, list.RemainingItemCount = rv, next, &left
		for _, o := range objs {
			pm, err := partialMetadata(o.Raw)
			if err != nil {
				return err
			}
			list.Items = append(list.Items, *pm)
		}
		writeJSON(w, http.StatusOK, list)
	default:
		meta, _ := json.Marshal(metav1.ListMeta{ResourceVersion: rv, Continue: next, RemainingItemCount: &left})
		var b bytes.Buffer
		b.WriteString(`{"kind":"` + t.kind.ListKind() + `","apiVersion":"` + t.kind.APIVersion() + `","metadata":`)
		b.Write(meta)
		b.WriteString(`,"items":[`)
		for i, o := range objs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(o.Raw)
		}
		b.WriteString("]}")
		writeBody(w, a, http.StatusOK, b.Bytes())
	}
	return nil
}
