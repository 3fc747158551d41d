package gateway_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/history"
)

// A list at an old revision rewound from the projection's memory is the
// list rebuilt from the log, object for object and byte for byte.
func TestListAtRewindMatchesLog(t *testing.T) {
	e := startHistory(t, projections.Options{}, true)
	ref := func(i int) events.Ref {
		return events.Ref{Resource: "configmaps", Namespace: "default", Name: fmt.Sprintf("cm-%02d", i)}
	}
	cm := func(i, v int) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": ref(i).Name, "namespace": "default", "uid": fmt.Sprint("u", i)},
			"data":     map[string]any{"v": fmt.Sprint(v)}}
	}
	seqs := map[int]uint64{}
	for i := range 20 {
		seqs[i] = appendDirect(t, e.log, events.ObjectCreated, "", ref(i), "ConfigMap", cm(i, 0), 0)
	}
	at := seqs[19]
	for i := range 10 {
		seqs[i] = appendDirect(t, e.log, events.ObjectUpdated, events.ChangeSpec, ref(i), "ConfigMap", cm(i, 1), seqs[i])
	}
	for i := 10; i < 15; i++ {
		appendDirect(t, e.log, events.ObjectDeleted, "", ref(i), "ConfigMap", cm(i, 0), seqs[i])
	}
	var last uint64
	for i := 20; i < 25; i++ {
		last = appendDirect(t, e.log, events.ObjectCreated, "", ref(i), "ConfigMap", cm(i, 0), 0)
	}
	e.proj.WaitFor(t.Context(), last)

	cur, curSeq := e.proj.List("", "configmaps", "default")
	want, err := history.ListAt(t.Context(), e.log, cur, curSeq, events.FilterSubject("", "configmaps", "default"), at)
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []json.RawMessage
	}
	code, body := e.wakeGetRaw(t, fmt.Sprintf("/api/v1/namespaces/default/configmaps?resourceVersion=%d&resourceVersionMatch=Exact", at))
	if err := json.Unmarshal(body, &list); code != 200 || err != nil {
		t.Fatalf("%d %v: %s", code, err, body)
	}
	var got []json.RawMessage
	for _, it := range list.Items {
		var m map[string]any
		json.Unmarshal(it, &m)
		if md := m["metadata"].(map[string]any); md["namespace"] == "default" && len(fmt.Sprint(md["name"])) == 5 {
			got = append(got, it)
		}
	}
	if len(got) != len(want) || len(want) != 20 {
		t.Fatalf("rewound %d objects, the log has %d (want 20)", len(got), len(want))
	}
	for i := range want {
		var a, b any
		json.Unmarshal(got[i], &a)
		json.Unmarshal(want[i].Raw, &b)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("object %d:\nrewound %s\nlog     %s", i, got[i], want[i].Raw)
		}
	}
	// The rewind itself, without HTTP, gives the log's bytes.
	w, _ := e.proj.Watch(at)
	chs, _ := w.Next(t.Context())
	rew := history.Rewind(cur, chs, at, curSeq, func(r events.Ref) bool { return r.Resource == "configmaps" && r.Namespace == "default" })
	for i := range want {
		if rew[i].Ref != want[i].Ref || string(rew[i].Raw) != string(want[i].Raw) {
			t.Errorf("Rewind object %d: %s, log %s", i, rew[i].Raw, want[i].Raw)
		}
	}
}
