package gateway_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/history"
)

// A list at an old revision that the projection's memory no longer covers
// comes from the revision index and the log by sequence, and is the list
// rebuilt from the log alone, byte for byte, at every revision.
func TestListAtIndexMatchesLog(t *testing.T) {
	e := startHistory(t, projections.Options{History: 5}, false)
	ref := func(i int) events.Ref {
		return events.Ref{Resource: "configmaps", Namespace: "default", Name: fmt.Sprintf("ix-%02d", i)}
	}
	cm := func(i, v int) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": ref(i).Name, "namespace": "default", "uid": fmt.Sprint("u", i)},
			"data":     map[string]any{"v": fmt.Sprint(v)}}
	}
	seqs := map[int]uint64{}
	var marks []uint64 // revisions to travel to
	for i := range 12 {
		seqs[i] = appendDirect(t, e.log, events.ObjectCreated, "", ref(i), "ConfigMap", cm(i, 0), 0)
	}
	marks = append(marks, seqs[11])
	for i := range 6 {
		seqs[i] = appendDirect(t, e.log, events.ObjectUpdated, events.ChangeSpec, ref(i), "ConfigMap", cm(i, 1), seqs[i])
	}
	marks = append(marks, seqs[5])
	for i := 6; i < 9; i++ {
		seqs[i] = appendDirect(t, e.log, events.ObjectDeleted, "", ref(i), "ConfigMap", cm(i, 0), seqs[i])
	}
	marks = append(marks, seqs[8])
	// Re-created after its deletion.
	seqs[6] = appendDirect(t, e.log, events.ObjectCreated, "", ref(6), "ConfigMap", cm(6, 2), seqs[6])
	marks = append(marks, seqs[6])
	var last uint64
	for i := range 12 {
		if i >= 7 && i < 9 {
			continue
		}
		last = appendDirect(t, e.log, events.ObjectUpdated, events.ChangeSpec, ref(i), "ConfigMap", cm(i, 3), seqs[i])
		seqs[i] = last
	}
	e.proj.WaitFor(t.Context(), last)

	for _, at := range marks {
		if _, ok := e.proj.AtIndex("", "configmaps", "default", at); !ok {
			t.Fatalf("the index does not cover %d", at)
		}
		cur, curSeq := e.proj.List("", "configmaps", "default")
		want, err := history.ListAt(t.Context(), e.log, cur, curSeq, events.FilterSubject("", "configmaps", "default"), at)
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Items []json.RawMessage }
		code, body := e.wakeGetRaw(t, fmt.Sprintf("/api/v1/namespaces/default/configmaps?resourceVersion=%d&resourceVersionMatch=Exact", at))
		if err := json.Unmarshal(body, &list); code != 200 || err != nil {
			t.Fatalf("at %d: %d %v: %s", at, code, err, body)
		}
		var got []json.RawMessage
		for _, it := range list.Items {
			var m struct{ Metadata struct{ Name string } }
			json.Unmarshal(it, &m)
			if len(m.Metadata.Name) == 5 && m.Metadata.Name[:3] == "ix-" {
				got = append(got, it)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("at %d: %d objects from the index, %d from the log", at, len(got), len(want))
		}
		for i := range want {
			var a, b any
			json.Unmarshal(got[i], &a)
			json.Unmarshal(want[i].Raw, &b)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("at %d, object %d:\nindex %s\nlog   %s", at, i, got[i], want[i].Raw)
			}
		}
		// Without HTTP, byte for byte.
		revs, _ := e.proj.AtIndex("", "configmaps", "default", at)
		objs, err := history.ObjectsAt(t.Context(), e.log, revs)
		if err != nil {
			t.Fatal(err)
		}
		var mine []*projections.Object
		for _, o := range objs {
			if len(o.Ref.Name) == 5 && o.Ref.Name[:3] == "ix-" {
				mine = append(mine, o)
			}
		}
		for i := range want {
			if mine[i].Ref != want[i].Ref || string(mine[i].Raw) != string(want[i].Raw) {
				t.Errorf("ObjectsAt at %d, object %d: %s, log %s", at, i, mine[i].Raw, want[i].Raw)
			}
		}
	}
}

// Revisions whose events retention discarded answer 410 Gone (Expired),
// never a guess, on the index path too.
func TestListAtIndexBeyondRetention(t *testing.T) {
	e := startHistory(t, projections.Options{History: 2}, false)
	ref := func(i int) events.Ref {
		return events.Ref{Resource: "configmaps", Namespace: "default", Name: fmt.Sprintf("rt-%d", i)}
	}
	cm := func(i, v int) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": ref(i).Name, "namespace": "default"}, "data": map[string]any{"v": fmt.Sprint(v)}}
	}
	s0 := appendDirect(t, e.log, events.ObjectCreated, "", ref(0), "ConfigMap", cm(0, 0), 0)
	s1 := appendDirect(t, e.log, events.ObjectCreated, "", ref(1), "ConfigMap", cm(1, 0), 0)
	s2 := appendDirect(t, e.log, events.ObjectCreated, "", ref(2), "ConfigMap", cm(2, 0), 0)
	s3 := appendDirect(t, e.log, events.ObjectUpdated, events.ChangeSpec, ref(0), "ConfigMap", cm(0, 1), s0)
	last := appendDirect(t, e.log, events.ObjectUpdated, events.ChangeSpec, ref(1), "ConfigMap", cm(1, 1), s1)
	for i := 3; i < 6; i++ { // out of the projection's memory (History: 2)
		last = appendDirect(t, e.log, events.ObjectCreated, "", ref(i), "ConfigMap", cm(i, 0), 0)
	}
	e.proj.WaitFor(t.Context(), last)
	// Retention drops every event before s2 (the creations of rt-0 and
	// rt-1): a count limit, as the log denies purges.
	cfg := e.log.Stream().CachedInfo().Config
	cfg.MaxMsgs = int64(last - s2 + 1)
	if _, err := e.log.JetStream().UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	list := func(at uint64) int {
		code, _ := e.wakeGetRaw(t, fmt.Sprintf("/api/v1/namespaces/default/configmaps?resourceVersion=%d&resourceVersionMatch=Exact", at))
		return code
	}
	if code := list(s0); code != 410 {
		t.Errorf("at %d, before the oldest retained event: %d, want 410", s0, code)
	}
	// At s2 rt-0 and rt-1 were as their discarded creations left them.
	if code := list(s2); code != 410 {
		t.Errorf("at %d, needing discarded events: %d, want 410", s2, code)
	}
	// At s3 rt-1 still needs its discarded creation.
	if code := list(s3); code != 410 {
		t.Errorf("at %d: %d, want 410", s3, code)
	}
	if code := list(last); code != 200 {
		t.Errorf("at %d, the present: %d, want 200", last, code)
	}
}
