package events_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
)

// applied records what a Writer waited for.
type applied struct {
	waited []uint64
	err    error
}

func (a *applied) WaitFor(_ context.Context, seq uint64) error {
	a.waited = append(a.waited, seq)
	return a.err
}

func unstamped(name string) events.Event {
	return events.Event{
		Type: events.ObjectCreated, Ref: cm("default", name), APIVersion: "v1", Kind: "ConfigMap",
		Data: fmt.Appendf(nil, `{"metadata":{"name":%q,"namespace":"default"}}`, name),
	}
}

func TestWriterStamp(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600))
	w := events.Writer{Source: "wake/test", Actor: "tester", Now: func() time.Time { return now }}

	ev := w.Stamp(unstamped("a"))
	if ev.ID == "" || ev.Source != "wake/test" || ev.Actor != "tester" || !ev.Time.Equal(now) || ev.Time.Location() != time.UTC {
		t.Fatalf("stamped %+v", ev)
	}
	if ev.RequestID != ev.ID {
		t.Fatalf("request id %q, want the event's id %q", ev.RequestID, ev.ID)
	}
	if again := w.Stamp(ev); again.ID != ev.ID || again.Time != ev.Time {
		t.Fatalf("a second stamp changed the id or time: %+v", again)
	}

	own := unstamped("b")
	own.Actor, own.RequestID, own.Time = "someone", "req-1", now.Add(time.Hour)
	w.RequestID = "req-w"
	if ev := w.Stamp(own); ev.Actor != "someone" || ev.RequestID != "req-1" || !ev.Time.Equal(own.Time) {
		t.Fatalf("the event's own actor, request id or time was overwritten: %+v", ev)
	}
	if ev := w.Stamp(unstamped("c")); ev.RequestID != "req-w" {
		t.Fatalf("request id %q, want the writer's", ev.RequestID)
	}
}

func TestWriterAppend(t *testing.T) {
	l, _ := openLog(t, events.Config{Memory: true})
	view := &applied{}
	w := events.Writer{Log: l, Source: "wake/test", Actor: "tester", Applied: view}

	ev, err := w.Append(t.Context(), unstamped("a"), 0)
	if err != nil || ev.Seq != 1 || ev.ID == "" {
		t.Fatalf("Append: %+v, %v", ev, err)
	}
	if len(view.waited) != 1 || view.waited[0] != 1 {
		t.Fatalf("waited for %v, want [1]", view.waited)
	}
	stored, err := l.Last(t.Context(), ev.Ref)
	if err != nil || stored.ID != ev.ID || stored.Actor != "tester" || stored.Source != "wake/test" {
		t.Fatalf("stored %+v, %v", stored, err)
	}

	// A retry passes the stamped event back: same id, not applied twice.
	ev.Seq = 0
	again, err := w.Append(t.Context(), ev, 0)
	if err != nil || again.Seq != 1 {
		t.Fatalf("retry: %+v, %v; want seq 1", again, err)
	}

	// A conflict is the log's, and nothing is waited for.
	view.waited = nil
	if _, err := w.Append(t.Context(), unstamped("a"), 0); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	if len(view.waited) != 0 {
		t.Fatalf("waited for %v after a conflict", view.waited)
	}

	// Without Applied, nothing is waited for; a failed wait is returned
	// with the sequence.
	if ev, err := (events.Writer{Log: l, Source: "wake/test", Actor: "tester"}).Append(t.Context(), unstamped("b"), 0); err != nil || ev.Seq != 2 {
		t.Fatalf("Append without Applied: %+v, %v", ev, err)
	}
	view.err = errors.New("stopped")
	if ev, err := w.Append(t.Context(), unstamped("c"), 0); !errors.Is(err, view.err) || ev.Seq != 3 {
		t.Fatalf("Append with a failing wait: %+v, %v", ev, err)
	}
}

func TestWriterAppendBatch(t *testing.T) {
	l, _ := openLog(t, events.Config{Memory: true})
	view := &applied{}
	w := events.Writer{Log: l, Source: "wake/test", Actor: "tester", Applied: view}

	batch := []events.Pending{{Event: unstamped("a")}, {Event: unstamped("b")}}
	res, err := w.AppendBatch(t.Context(), batch)
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("AppendBatch: %+v, %v", res, err)
	}
	for i, p := range batch {
		if p.Event.ID == "" || p.Event.Actor != "tester" {
			t.Fatalf("event %d not stamped in place: %+v", i, p.Event)
		}
	}
	if len(view.waited) != 1 || view.waited[0] != max(res[0].Seq, res[1].Seq) {
		t.Fatalf("waited for %v, want the highest of %+v", view.waited, res)
	}

	view.waited = nil
	res, err = w.AppendBatch(t.Context(), []events.Pending{{Event: unstamped("a")}})
	if err != nil || !errors.Is(res[0].Err, events.ErrConflict) || len(view.waited) != 0 {
		t.Fatalf("a batch that wrote nothing: %+v, %v, waited %v", res, err, view.waited)
	}
}
