package history_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections/history"
)

// BenchmarkRevisions10000 reads the history of one object with 10,000
// revisions, diffs included, without HTTP (file storage, no fsync).
//
//	go test ./projections/history -run '^$' -bench Revisions -benchtime 10x
func BenchmarkRevisions10000(b *testing.B) {
	_, nc := natstest.Start(b)
	log, err := events.Open(b.Context(), nc, events.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ref := events.Ref{Resource: "configmaps", Namespace: "default", Name: "busy"}
	var seq uint64
	for i := range 10000 {
		data, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "busy", "namespace": "default", "uid": "u-1", "labels": map[string]any{"app": "busy"}},
			"data":     map[string]any{"counter": strconv.Itoa(i), "static": strings.Repeat("x", 512)}})
		typ, change := events.ObjectUpdated, events.ChangeSpec
		if i == 0 {
			typ, change = events.ObjectCreated, ""
		}
		if seq, err = log.Append(b.Context(), events.Event{ID: events.NewID(), Type: typ, Change: change, Source: "wake/bench", Ref: ref,
			APIVersion: "v1", Kind: "ConfigMap", Actor: "bench", RequestID: "r", Data: data}, seq); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		h, err := history.Revisions(b.Context(), log, ref, history.Options{})
		if err != nil || len(h.Revisions) != 10000 {
			b.Fatal(err)
		}
	}
}
