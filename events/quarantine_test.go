package events_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events"
)

// Poison on an object's subject does not make it unwritable: Append
// writes over quarantined messages (those that do not decode, and those
// the process's fold says it quarantined), and Last passes over them. A
// real event in between, or an event of a newer wake, still conflicts.
func TestAppendOverQuarantined(t *testing.T) {
	l, _ := openLog(t, events.Config{Memory: true})
	js := l.JetStream()
	poison := func(ref events.Ref, edit func(*nats.Msg)) uint64 {
		t.Helper()
		ev := newEvent(ref, events.ObjectCreated, "")
		ev.Time = time.Now()
		m, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		edit(m)
		ack, err := js.PublishMsg(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	garbage := func(m *nats.Msg) { m.Header, m.Data = nil, []byte("not an event") }

	// A name whose subject holds only poison: created expecting 0.
	ref := cm("default", "garbage")
	poison(ref, garbage)
	if _, err := l.Last(t.Context(), ref); !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("Last over poison only: %v, want ErrNotFound", err)
	}
	s1 := mustAppend(t, l, newEvent(ref, events.ObjectCreated, ""), 0)
	// Poison after it: updated expecting its resourceVersion.
	poison(ref, garbage)
	poison(ref, garbage)
	if last, err := l.Last(t.Context(), ref); err != nil || last.Seq != s1 {
		t.Fatalf("Last = %v %v, want the event at %d", last.Seq, err, s1)
	}
	s2 := mustAppend(t, l, newEvent(ref, events.ObjectUpdated, events.ChangeSpec), s1)

	// A message that decodes is skipped only when the fold says so.
	q := poison(ref, func(m *nats.Msg) { m.Header.Set(events.HeaderKind, "Pod") })
	if _, err := l.Append(t.Context(), newEvent(ref, events.ObjectUpdated, events.ChangeSpec), s2); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("over a message the fold did not quarantine: %v, want a conflict", err)
	}
	l.SetQuarantined(func(seq uint64) bool { return seq == q })
	defer l.SetQuarantined(nil)
	if last, _ := l.Last(t.Context(), ref); last.Seq != s2 {
		t.Fatalf("Last = %d, want %d", last.Seq, s2)
	}
	s3 := mustAppend(t, l, newEvent(ref, events.ObjectUpdated, events.ChangeSpec), s2)

	// A real event between: a conflict, as ever.
	if _, err := l.Append(t.Context(), newEvent(ref, events.ObjectUpdated, events.ChangeSpec), s2); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("stale expectation: %v, want a conflict", err)
	}
	// An event of a type a newer wake knows: not written over.
	poison(ref, func(m *nats.Msg) { m.Header.Set(events.HeaderType, "io.wake.object.renamed.v1") })
	if _, err := l.Append(t.Context(), newEvent(ref, events.ObjectUpdated, events.ChangeSpec), s3); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("over a newer wake's event: %v, want a conflict", err)
	}
}
