package projections

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
)

func cm(seq uint64, typ events.Type, ns, name, data string) events.Event {
	ref := events.Ref{Resource: "configmaps", Namespace: ns, Name: name}
	body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":%q,"uid":"u-%s","labels":{"app":%q}},"data":{"k":%q}}`, name, ns, name, name, data)
	return events.Event{Seq: seq, Type: typ, Ref: ref, Data: []byte(body)}
}

// recorded is a small log: creates, updates, a delete, and a bad event.
func recorded() []events.Event {
	return []events.Event{
		cm(1, events.ObjectCreated, "default", "a", "1"),
		cm(2, events.ObjectCreated, "default", "b.dotted", "1"),
		cm(3, events.ObjectUpdated, "default", "a", "2"),
		cm(4, events.ObjectCreated, "other", "a", "1"),
		{Seq: 5, Type: events.ObjectCreated, Ref: events.Ref{Resource: "configmaps", Namespace: "default", Name: "c"}, Data: []byte(`not json`)},
		cm(6, events.ObjectDeleted, "default", "b.dotted", "1"),
	}
}

func fold(evs []events.Event) *State {
	s := NewState()
	for _, ev := range evs {
		s.Apply(ev)
	}
	return s
}

func TestFoldIsDeterministic(t *testing.T) {
	a, b := fold(recorded()), fold(recorded())
	if a.Hash() != b.Hash() {
		t.Fatal("the same log folded to different states")
	}
	var sa, sb bytes.Buffer
	a.WriteSnapshot(&sa)
	b.WriteSnapshot(&sb)
	if !bytes.Equal(sa.Bytes(), sb.Bytes()) {
		t.Fatal("equal states wrote different snapshots")
	}
	if a.Seq() != 6 || a.Len() != 2 {
		t.Fatalf("seq %d len %d, want 6 and 2", a.Seq(), a.Len())
	}
}

func TestFoldSetsResourceVersion(t *testing.T) {
	s := fold(recorded())
	o, ok := s.Get(events.Ref{Resource: "configmaps", Namespace: "default", Name: "a"})
	if !ok || o.Seq != 3 || !bytes.Contains(o.Raw, []byte(`"resourceVersion":"3"`)) || !bytes.Contains(o.Raw, []byte(`"k":"2"`)) {
		t.Fatalf("object a: %+v %s", o, o.Raw)
	}
	if _, ok := s.Get(events.Ref{Resource: "configmaps", Namespace: "default", Name: "b.dotted"}); ok {
		t.Fatal("deleted object still present")
	}
	if got := s.List("", "configmaps", ""); len(got) != 2 || got[0].Ref.Namespace != "default" || got[1].Ref.Namespace != "other" {
		t.Fatalf("list order: %v", got)
	}
}

func TestFoldRejects(t *testing.T) {
	s := NewState()
	if _, err := s.Apply(cm(1, events.ObjectDeleted, "default", "x", "1")); err == nil {
		t.Fatal("deleting a missing object should fail")
	}
	wrong := cm(2, events.ObjectCreated, "default", "x", "1")
	wrong.Ref.Name = "y"
	if _, err := s.Apply(wrong); err == nil {
		t.Fatal("data naming another object should fail")
	}
	if _, err := s.Apply(cm(2, events.ObjectCreated, "default", "x", "1")); err == nil {
		t.Fatal("an event out of order should fail")
	}
	if s.Len() != 0 || s.Seq() != 2 {
		t.Fatalf("refused events changed state: len %d seq %d", s.Len(), s.Seq())
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := fold(recorded())
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := ReadSnapshot(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if r.Hash() != s.Hash() {
		t.Fatal("snapshot did not restore the same state")
	}
	if _, err := ReadSnapshot(bytes.NewReader([]byte(`{"format":"wake.snapshot.v9","seq":1}`))); err == nil {
		t.Fatal("an unknown snapshot format must be refused")
	}
	trunc := buf.Bytes()[:buf.Len()-10]
	if _, err := ReadSnapshot(bytes.NewReader(trunc)); err == nil {
		t.Fatal("a truncated snapshot must be refused")
	}
}

func TestWatchAndWaitFor(t *testing.T) {
	p := New(Options{History: 4})
	w, err := p.Watch(0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, ev := range recorded()[:4] {
			p.Apply(ev)
		}
	}()
	if err := p.WaitFor(t.Context(), 4); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 4 {
		chs, err := w.Next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chs {
			got = append(got, fmt.Sprintf("%s %s %d", ch.Type, ch.Object.Ref.Name, ch.Seq))
		}
	}
	want := "[ADDED a 1 ADDED b.dotted 2 MODIFIED a 3 ADDED a 4]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	// History holds 4 changes: a fifth pushes the first out.
	p.Apply(cm(6, events.ObjectDeleted, "default", "b.dotted", "1"))
	if _, err := p.Watch(0); !errors.Is(err, ErrExpired) {
		t.Fatalf("watch from 0 after eviction: %v, want ErrExpired", err)
	}
	if _, err := p.Watch(1); err != nil {
		t.Fatalf("watch from 1: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := p.WaitFor(ctx, 100); err == nil {
		t.Fatal("WaitFor a future sequence should time out")
	}
}

// Snapshots of an older wake (v1, no quarantine record) still load; a
// state with quarantined messages writes v2, which keeps the record.
func TestSnapshotVersions(t *testing.T) {
	v1 := `{"format":"wake.snapshot.v1","seq":7,"objects":1}
{"subject":"wake.obj.core.configmaps.default.a","seq":3,"object":{"metadata":{"name":"a","namespace":"default","resourceVersion":"3","uid":"u"}}}
`
	s, err := ReadSnapshot(bytes.NewReader([]byte(v1)))
	if err != nil || s.Seq() != 7 || s.Len() != 1 || len(s.Quarantined()) != 0 {
		t.Fatalf("v1 snapshot: %v %+v", err, s)
	}
	if _, err := s.Apply(cm(8, events.ObjectUpdated, "default", "missing", "1")); err == nil {
		t.Fatal("an update of a missing object must be quarantined")
	}
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte(`{"format":"wake.snapshot.v2"`)) {
		t.Fatalf("with a quarantined message: %s", buf.Bytes())
	}
	r, err := ReadSnapshot(&buf)
	if err != nil || fmt.Sprint(r.Quarantined()) != fmt.Sprint(s.Quarantined()) || r.Hash() != s.Hash() {
		t.Fatalf("v2 round trip: %v %v", err, r.Quarantined())
	}
	bad := `{"format":"wake.snapshot.v1","seq":7,"objects":0,"quarantined":1}` + "\n"
	if _, err := ReadSnapshot(bytes.NewReader([]byte(bad))); err == nil {
		t.Fatal("a v1 snapshot cannot hold quarantined messages")
	}
}
