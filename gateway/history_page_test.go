package gateway_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

type pagedList struct {
	Metadata struct {
		ResourceVersion    string
		Continue           string
		RemainingItemCount *int64
	}
	Items []struct {
		Metadata struct{ Name, ResourceVersion string }
		Data     map[string]string
	}
}

// Lists at a revision and histories come in pages that add up to the
// whole answer, every page at the same revision.
func TestPagination(t *testing.T) {
	e := startHistory(t, projections.Options{History: 3}, true)
	ref := func(i int) events.Ref {
		return events.Ref{Resource: "configmaps", Namespace: "paged", Name: fmt.Sprintf("pg-%d", i)}
	}
	cm := func(i, v int) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": ref(i).Name, "namespace": "paged"}, "data": map[string]any{"v": fmt.Sprint(v)}}
	}
	seqs := map[int]uint64{}
	for i := range 7 {
		seqs[i] = appendDirect(t, e.log, events.ObjectCreated, "", ref(i), "ConfigMap", cm(i, 0), 0)
	}
	at := seqs[6]
	for v := 1; v <= 6; v++ {
		seqs[0] = appendDirect(t, e.log, events.ObjectUpdated, events.ChangeSpec, ref(0), "ConfigMap", cm(0, v), seqs[0])
	}
	appendDirect(t, e.log, events.ObjectDeleted, "", ref(3), "ConfigMap", cm(3, 0), seqs[3])
	e.proj.WaitFor(t.Context(), seqs[0]+1)

	// The list at `at`, three at a time: 3 + 3 + 1, all showing revision at.
	base := "/apis/wake.io/v1/objects/core/configmaps/paged"
	var names []string
	q := url.Values{"at": {fmt.Sprint(at)}, "limit": {"3"}}
	for page := 0; ; page++ {
		var l pagedList
		if code := e.wakeGet(t, base+"?"+q.Encode(), &l); code != 200 {
			t.Fatalf("page %d: %d", page, code)
		}
		if l.Metadata.ResourceVersion != fmt.Sprint(at) {
			t.Fatalf("page %d at %s, want %d", page, l.Metadata.ResourceVersion, at)
		}
		for _, it := range l.Items {
			names = append(names, it.Metadata.Name)
			if it.Metadata.Name == "pg-0" && it.Data["v"] != "0" {
				t.Errorf("pg-0 on page %d is %v, not as it was at %d", page, it.Data, at)
			}
		}
		if l.Metadata.Continue == "" {
			if page != 2 || len(l.Items) != 1 || l.Metadata.RemainingItemCount != nil {
				t.Fatalf("last page %d: %d items, remaining %v", page, len(l.Items), l.Metadata.RemainingItemCount)
			}
			break
		}
		if len(l.Items) != 3 || l.Metadata.RemainingItemCount == nil || *l.Metadata.RemainingItemCount != int64(4-3*page) {
			t.Fatalf("page %d: %d items, remaining %v", page, len(l.Items), l.Metadata.RemainingItemCount)
		}
		q = url.Values{"limit": {"3"}, "continue": {l.Metadata.Continue}} // at comes from the token
	}
	if got := strings.Join(names, " "); got != "pg-0 pg-1 pg-2 pg-3 pg-4 pg-5 pg-6" {
		t.Fatalf("pages add up to %s", got)
	}

	// The history of pg-0 (7 revisions), two at a time, newest first.
	var all historyAnswer
	e.wakeGet(t, "/apis/wake.io/v1/history/core/configmaps/paged/pg-0", &all)
	var walked []string
	hq := url.Values{"limit": {"2"}}
	for page := 0; page < 10; page++ {
		var h struct {
			historyAnswer
			Metadata struct{ Continue string }
		}
		if code := e.wakeGet(t, "/apis/wake.io/v1/history/core/configmaps/paged/pg-0?"+hq.Encode(), &h); code != 200 {
			t.Fatalf("history page %d: %d", page, code)
		}
		var rvs []string
		for _, r := range h.Revisions {
			rvs = append(rvs, r.ResourceVersion)
		}
		walked = append(rvs, walked...)
		if h.Metadata.Continue == "" {
			break
		}
		hq.Set("continue", h.Metadata.Continue)
	}
	var want []string
	for _, r := range all.Revisions {
		want = append(want, r.ResourceVersion)
	}
	if len(want) != 7 || strings.Join(walked, " ") != strings.Join(want, " ") {
		t.Fatalf("history pages %v, whole history %v", walked, want)
	}

	// Bad tokens, and a token for another revision, are 400.
	for path, code := range map[string]int{
		base + "?continue=%%%":             400,
		base + "?continue=bm90IGEgdG9rZW4": 400,
		base + "?at=" + fmt.Sprint(at+1) + "&continue=" + firstToken(t, e, base, at):                 400,
		"/apis/wake.io/v1/history/core/configmaps/paged/pg-0?continue=" + firstToken(t, e, base, at): 400,
		base + "?at=" + fmt.Sprint(at) + "&limit=x":                                                  400,
	} {
		if got := e.wakeGet(t, path, nil); got != code {
			t.Errorf("GET %s: %d, want %d", path, got, code)
		}
	}
}

func firstToken(t *testing.T, e *env, base string, at uint64) string {
	var l pagedList
	e.wakeGet(t, fmt.Sprintf("%s?at=%d&limit=1", base, at), &l)
	if l.Metadata.Continue == "" {
		t.Fatal("no continue token")
	}
	return url.QueryEscape(l.Metadata.Continue)
}
