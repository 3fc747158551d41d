package history

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
)

// ObjectsAt reads the events it needs by sequence, a window of requests at
// a time, and says which were discarded.
func TestObjectsAtBySequence(t *testing.T) {
	defer func(w int) { getWindow = w }(getWindow)
	getWindow = 3
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	var revs []projections.Revision
	for i := range 10 {
		ref := events.Ref{Resource: "configmaps", Namespace: "default", Name: fmt.Sprint("c", i)}
		seq, err := log.Append(t.Context(), events.Event{ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test", Ref: ref,
			APIVersion: "v1", Kind: "ConfigMap", Actor: "t", RequestID: "r",
			Data: []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c%d","namespace":"default"}}`, i))}, 0)
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, projections.Revision{Ref: ref, Seq: seq})
	}
	objs, err := ObjectsAt(t.Context(), log, revs)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		if o.Ref != revs[i].Ref || o.Seq != revs[i].Seq {
			t.Errorf("object %d: %s at %d, want %s at %d", i, o.Ref, o.Seq, revs[i].Ref, revs[i].Seq)
		}
	}
	revs = append(revs, projections.Revision{Ref: revs[0].Ref, Seq: 999})
	if _, err := ObjectsAt(t.Context(), log, revs); !errors.Is(err, ErrBeyondRetention) {
		t.Errorf("a missing event: %v, want ErrBeyondRetention", err)
	}
}
