package events_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
)

func TestAppendBatch(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name string) events.Event {
		return events.Event{
			ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test", Time: time.Now(),
			Ref:        events.Ref{Resource: "configmaps", Namespace: "default", Name: name},
			APIVersion: "v1", Kind: "ConfigMap", Actor: "tester", RequestID: "r",
			Data: []byte(fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"default"}}`, name)),
		}
	}
	var batch []events.Pending
	for i := 0; i < 50; i++ {
		batch = append(batch, events.Pending{Event: mk(fmt.Sprintf("cm%d", i))})
	}
	batch = append(batch, events.Pending{Event: mk("cm0")}) // cm0 exists by then: conflict
	bad := mk("bad")
	bad.Detail = "{not json"
	batch = append(batch, events.Pending{Event: bad})
	res := log.AppendBatch(t.Context(), batch)
	seen := map[uint64]bool{}
	for i, r := range res[:50] {
		if r.Err != nil || r.Seq == 0 || seen[r.Seq] {
			t.Fatalf("event %d: %+v", i, r)
		}
		seen[r.Seq] = true
	}
	if !errors.Is(res[50].Err, events.ErrConflict) {
		t.Fatalf("second create of cm0: %v, want ErrConflict", res[50].Err)
	}
	if res[51].Err == nil {
		t.Fatal("an event with malformed detail was appended")
	}
	last, _ := log.LastSeq(t.Context())
	if last != 50 {
		t.Fatalf("last seq %d, want 50", last)
	}
}
