package projections

import (
	"fmt"
	"testing"

	"github.com/wakehq/wake/events"
)

func indexEvent(seq uint64, typ events.Type, name string) events.Event {
	ref := events.Ref{Resource: "configmaps", Namespace: "default", Name: name}
	return events.Event{Seq: seq, Type: typ, Ref: ref,
		Data: []byte(fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"default"},"data":{"seq":"%d"}}`, name, seq))}
}

func TestAtIndex(t *testing.T) {
	evs := []events.Event{
		indexEvent(1, events.ObjectCreated, "a"),
		indexEvent(2, events.ObjectCreated, "b"),
		indexEvent(3, events.ObjectUpdated, "a"),
		indexEvent(4, events.ObjectDeleted, "b"),
		indexEvent(5, events.ObjectCreated, "b"),
		indexEvent(6, events.ObjectCreated, "c"),
	}
	want := map[uint64]string{1: "a@1", 2: "a@1 b@2", 3: "a@3* b@2", 4: "a@3*", 5: "a@3* b@5*", 6: "a@3* b@5* c@6*"}
	p := New(Options{})
	for _, ev := range evs {
		p.Apply(ev)
	}
	show := func(revs []Revision) string {
		s := ""
		for _, r := range revs {
			if s != "" {
				s += " "
			}
			s += fmt.Sprintf("%s@%d", r.Ref.Name, r.Seq)
			if r.Live != nil {
				s += "*"
			}
		}
		return s
	}
	for at, w := range want {
		revs, ok := p.AtIndex("", "configmaps", "default", at)
		if got := show(revs); !ok || got != w {
			t.Errorf("at %d: %q %v, want %q", at, got, ok, w)
		}
	}
	if _, ok := p.AtIndex("", "configmaps", "default", 7); ok {
		t.Error("the index answered for a revision after the last applied event")
	}

	// Restored from a snapshot at 4, the index covers 4 onwards.
	st := NewState()
	for _, ev := range evs[:4] {
		st.Apply(ev)
	}
	q := New(Options{})
	q.restore(st)
	for _, ev := range evs[4:] {
		q.Apply(ev)
	}
	if _, ok := q.AtIndex("", "configmaps", "default", 3); ok {
		t.Error("the index answered for a revision before the snapshot")
	}
	for at := uint64(4); at <= 6; at++ {
		revs, ok := q.AtIndex("", "configmaps", "default", at)
		if got := show(revs); !ok || got != want[at] {
			t.Errorf("restored, at %d: %q %v, want %q", at, got, ok, want[at])
		}
	}
	if r := New(Options{NoRevisionIndex: true}); r.index != nil {
		t.Error("NoRevisionIndex kept an index")
	}
}
