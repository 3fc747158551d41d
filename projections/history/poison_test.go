package history_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/history"
)

// The readers of the past read past quarantined messages: replay folds
// as the projection does, an object whose last message is poison is as
// its last good event left it, a list at a revision keeps it, its history
// shows only its revisions, and a scan goes on.
func TestHistoryReadsPastPoison(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	put := func(typ events.Type, name, v string, expect uint64) uint64 {
		t.Helper()
		ev := events.Event{ID: events.NewID(), Type: typ, Source: "wake/test", Time: time.Now(),
			Ref: events.Ref{Resource: "configmaps", Namespace: "default", Name: name}, APIVersion: "v1", Kind: "ConfigMap",
			Actor: "tester", RequestID: "r", Data: []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":"default"},"data":{"k":%q}}`, name, v))}
		if typ == events.ObjectUpdated {
			ev.Change = events.ChangeSpec
		}
		seq, err := log.Append(t.Context(), ev, expect)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	poison := func(subject string) uint64 {
		t.Helper()
		ack, err := log.JetStream().PublishMsg(t.Context(), &nats.Msg{Subject: subject, Data: []byte("not an event")})
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	a1 := put(events.ObjectCreated, "a", "1", 0)
	a2 := put(events.ObjectUpdated, "a", "2", a1)
	poison("wake.obj.core.configmaps.default.a") // a's last message
	put(events.ObjectCreated, "b", "1", 0)
	poison("wake.obj.nonsense")
	// An update of an object that never existed: it decodes, the fold
	// quarantines it.
	ghost := events.Event{ID: events.NewID(), Type: events.ObjectUpdated, Change: events.ChangeSpec, Source: "wake/test", Time: time.Now(),
		Ref: events.Ref{Resource: "configmaps", Namespace: "default", Name: "ghost"}, APIVersion: "v1", Kind: "ConfigMap",
		Actor: "tester", RequestID: "r", Data: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ghost","namespace":"default"}}`)}
	m, err := ghost.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.JetStream().PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	last, _ := log.LastSeq(t.Context())

	st, skipped, err := history.Replay(t.Context(), log, projections.NewState(), last)
	if err != nil || skipped != 3 || len(st.Quarantined()) != 3 || st.Len() != 2 {
		t.Fatalf("replay: %v, skipped %d, quarantined %v, %d objects", err, skipped, st.Quarantined(), st.Len())
	}
	ref := events.Ref{Resource: "configmaps", Namespace: "default", Name: "a"}
	o, err := history.ObjectAt(t.Context(), log, ref, last)
	if err != nil || o.Seq != a2 {
		t.Fatalf("a at %d: %v %v, want its event %d", last, o, err, a2)
	}
	cur := st.List("", "configmaps", "")
	objs, err := history.ListAt(t.Context(), log, cur, last, events.FilterSubject("", "configmaps", ""), a2+1)
	if err != nil || len(objs) != 1 || objs[0].Seq != a2 {
		t.Fatalf("list at %d: %v %v", a2+1, objs, err)
	}
	h, err := history.Revisions(t.Context(), log, ref, history.Options{})
	if err != nil || len(h.Revisions) != 2 {
		t.Fatalf("history of a: %v %+v", err, h)
	}
	n := 0
	if err := history.Scan(t.Context(), log, "", 1, last, func(events.Event) error { n++; return nil }); err != nil || n != 4 {
		t.Fatalf("scan: %v, %d events, want 4 (the ghost update decodes)", err, n)
	}
}
