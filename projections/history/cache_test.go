package history

import (
	"context"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
)

// A cached history continued with new events answers exactly what a fresh
// read does, with and without Limit and Upto.
func TestHistoryCacheContinues(t *testing.T) {
	defer func(n int) { cacheMin = n }(cacheMin)
	cacheMin = 1
	_, nc := natstest.Start(t)
	ctx := t.Context()
	log, err := events.Open(ctx, nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ref := events.Ref{Resource: "configmaps", Namespace: "default", Name: "c"}
	var seq uint64
	add := func(n int) {
		for i := 0; i < n; i++ {
			typ, change := events.ObjectUpdated, events.ChangeSpec
			if seq == 0 {
				typ, change = events.ObjectCreated, ""
			}
			data, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "c", "namespace": "default"}, "data": map[string]any{"n": strconv.Itoa(int(seq))}})
			seq, err = log.Append(context.Background(), events.Event{ID: events.NewID(), Type: typ, Change: change, Source: "wake/test",
				Ref: ref, APIVersion: "v1", Kind: "ConfigMap", Actor: "t", RequestID: "r", Data: data}, seq)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	fresh := func(opts Options) *History {
		t.Helper()
		revisionCache.Lock()
		saved := revisionCache.entries
		revisionCache.entries = nil
		revisionCache.Unlock()
		defer func() { revisionCache.Lock(); revisionCache.entries = saved; revisionCache.Unlock() }()
		h, err := Revisions(ctx, log, ref, opts)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	check := func(opts Options) {
		t.Helper()
		want := fresh(opts)
		got, err := Revisions(ctx, log, ref, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v: cached history differs from a fresh read", opts)
		}
	}
	add(5)
	if _, err := Revisions(ctx, log, ref, Options{}); err != nil { // fills the cache
		t.Fatal(err)
	}
	if cacheGet(cacheKey{log, ref}) == nil {
		t.Fatal("history not cached")
	}
	check(Options{})
	add(3)
	check(Options{Limit: 2})
	check(Options{})
	add(2)
	check(Options{Upto: seq - 1})
	check(Options{})
	check(Options{After: 3})
}
