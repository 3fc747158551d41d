package projections_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/logscan"
)

// poison is one kind of message that is not a valid next event of its
// object: each must be quarantined, and the state folds as if it were
// absent.
type poison struct {
	name string
	msg  func() *nats.Msg
}

// configMapEvent is a valid event about configmap default/name.
func configMapEvent(typ events.Type, name, value string) events.Event {
	ev := events.Event{
		ID: events.NewID(), Type: typ, Source: "wake/test", Time: time.Now().UTC(),
		Ref:        events.Ref{Resource: "configmaps", Namespace: "default", Name: name},
		APIVersion: "v1", Kind: "ConfigMap", Actor: "tester", RequestID: "r",
		Data: []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"namespace":"default"},"data":{"k":%q}}`, name, value)),
	}
	if typ == events.ObjectUpdated {
		ev.Change = events.ChangeSpec
	}
	return ev
}

// encoded is ev as Append publishes it, changed by edit (which may make
// it invalid: Encode is not asked again).
func encoded(ev events.Event, edit func(m *nats.Msg)) func() *nats.Msg {
	return func() *nats.Msg {
		m, err := ev.Encode()
		if err != nil {
			panic(err)
		}
		m.Header.Del(events.HeaderMsgID) // the same poison may be published twice
		edit(m)
		return m
	}
}

func poisons() []poison {
	create := configMapEvent(events.ObjectCreated, "victim", "poisoned")
	return []poison{
		{"no headers", func() *nats.Msg {
			return &nats.Msg{Subject: "wake.obj.core.configmaps.default.garbage", Data: []byte("not an event")}
		}},
		{"wrong specversion", encoded(create, func(m *nats.Msg) { m.Header.Set(events.HeaderSpecVersion, "0.3") })},
		{"change on a create", encoded(create, func(m *nats.Msg) { m.Header.Set(events.HeaderChange, "spec") })},
		{"truncated JSON", encoded(create, func(m *nats.Msg) { m.Data = m.Data[:len(m.Data)/2] })},
		{"data not an object", encoded(create, func(m *nats.Msg) { m.Data = []byte(`[1,2,3]`) })},
		{"header kind not the subject's", encoded(create, func(m *nats.Msg) { m.Header.Set(events.HeaderKind, "Pod") })},
		{"data kind not the header's", encoded(create, func(m *nats.Msg) {
			m.Data = bytes.Replace(m.Data, []byte(`"kind":"ConfigMap"`), []byte(`"kind":"Secret"`), 1)
		})},
		{"data naming another object", encoded(create, func(m *nats.Msg) {
			m.Data = bytes.Replace(m.Data, []byte(`"name":"victim"`), []byte(`"name":"other"`), 1)
		})},
		{"update of a missing object", encoded(configMapEvent(events.ObjectUpdated, "ghost", "x"), func(*nats.Msg) {})},
		{"delete of a missing object", encoded(configMapEvent(events.ObjectDeleted, "ghost", "x"), func(*nats.Msg) {})},
		{"not a wake type", encoded(create, func(m *nats.Msg) { m.Header.Set(events.HeaderType, "com.example.exploded") })},
		{"subject that names no object", encoded(create, func(m *nats.Msg) { m.Subject = "wake.obj.garbage" })},
		{"huge garbage headers", encoded(create, func(m *nats.Msg) {
			m.Header.Set(events.HeaderActor, strings.Repeat("\xff\x00garbage", 2<<10))
			m.Header.Set("X-"+strings.Repeat("a", 1024), strings.Repeat("b", 30<<10))
			m.Header.Set(events.HeaderTime, "yesterday")
		})},
	}
}

// writer appends good events as a wake writer does: expecting the
// sequence of the object's last good event (its resourceVersion), 0 for a
// new one. Poison on the subject since does not make it conflict.
type writer struct {
	t      *testing.T
	log    *events.Log
	expect map[events.Ref]uint64
}

// publish appends bad[i] (published raw, as anyone with credentials to
// the stream could) before evs[i]; it returns the good events with their
// sequences and the poison's sequences. With a projection, it waits for
// it to apply each poison first, as a writer that read its view after it.
func (w *writer) publish(p *projections.Projection, evs []events.Event, bad []*nats.Msg) (good []events.Event, poisoned []uint64) {
	t := w.t
	t.Helper()
	for i, ev := range evs {
		if i < len(bad) {
			ack, err := w.log.JetStream().PublishMsg(t.Context(), bad[i])
			if err != nil {
				t.Fatalf("publish poison %d: %v", i, err)
			}
			poisoned = append(poisoned, ack.Sequence)
			if p != nil {
				if err := p.WaitFor(t.Context(), ack.Sequence); err != nil {
					t.Fatal(err)
				}
			}
		}
		seq, err := w.log.Append(t.Context(), ev, w.expect[ev.Ref])
		if err != nil {
			t.Fatal(err)
		}
		w.expect[ev.Ref] = seq
		ev.Seq = seq
		good = append(good, ev)
	}
	return good, poisoned
}

// goodEvents are a small life of two config maps.
func goodEvents() []events.Event {
	return []events.Event{
		configMapEvent(events.ObjectCreated, "a", "1"),
		configMapEvent(events.ObjectCreated, "b", "1"),
		configMapEvent(events.ObjectCreated, "victim", "1"),
		configMapEvent(events.ObjectUpdated, "a", "2"),
		configMapEvent(events.ObjectUpdated, "victim", "2"),
		configMapEvent(events.ObjectDeleted, "a", "2"),
	}
}

// objectLines are a state's objects as its snapshot writes them.
func objectLines(t *testing.T, s *projections.State) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	sc.Scan() // header
	for sc.Scan() {
		var l map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if _, ok := l["object"]; ok {
			out = append(out, sc.Text())
		}
	}
	return out
}

// absent folds the good events alone, with their sequences in the log.
func absent(t *testing.T, good []events.Event) *projections.State {
	t.Helper()
	s := projections.NewState()
	for _, ev := range good {
		if _, err := s.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// stateOf is the projection's state, through a snapshot.
func stateOf(t *testing.T, p *projections.Projection) *projections.State {
	t.Helper()
	var buf bytes.Buffer
	if err := p.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	s, err := projections.ReadSnapshot(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startProjection(t *testing.T, log *events.Log, snaps *projections.Snapshots) (*projections.Projection, context.CancelFunc, <-chan error) {
	t.Helper()
	p := projections.New(projections.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, log, snaps) }()
	select {
	case <-p.Ready():
	case err := <-done:
		t.Fatalf("projection stopped before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("projection not ready in 20s")
	}
	return p, cancel, done
}

// Each kind of poison, met while catching up and while following the
// log: the projection serves, quarantines it with its sequence and reason,
// moves its sequence past it (WaitFor returns), and its state is the fold
// of the good events alone.
func TestPoisonIsQuarantined(t *testing.T) {
	for _, pz := range poisons() {
		t.Run(pz.name, func(t *testing.T) {
			_, nc := natstest.Start(t)
			log, err := events.Open(t.Context(), nc, events.Config{})
			if err != nil {
				t.Fatal(err)
			}
			// Before the projection starts (catch-up) and after (live).
			w := &writer{t, log, map[events.Ref]uint64{}}
			early, poisonEarly := w.publish(nil, goodEvents()[:2], []*nats.Msg{pz.msg()})
			p, cancel, done := startProjection(t, log, nil)
			late, poisonLate := w.publish(p, goodEvents()[2:], []*nats.Msg{pz.msg()})
			last, _ := log.LastSeq(t.Context())
			if last != late[len(late)-1].Seq {
				t.Fatalf("the log ends at %d, not with a good event", last)
			}
			ctx, stop := context.WithTimeout(t.Context(), 10*time.Second)
			defer stop()
			if err := p.WaitFor(ctx, last); err != nil {
				t.Fatalf("the projection did not get past the poison: %v", err)
			}
			want := absent(t, append(early, late...))
			if got, w := objectLines(t, stateOf(t, p)), objectLines(t, want); fmt.Sprint(got) != fmt.Sprint(w) {
				t.Errorf("state with poison:\n%s\nwant as if absent:\n%s", got, w)
			}
			q := p.Quarantined()
			if len(q) != 2 || q[0].Seq != poisonEarly[0] || q[1].Seq != poisonLate[0] || q[0].Reason == "" {
				t.Errorf("quarantined %+v, want sequences %d and %d with reasons", q, poisonEarly[0], poisonLate[0])
			}
			if n := p.QuarantineCount(); n != 2 {
				t.Errorf("QuarantineCount %d, want 2", n)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

// A restart after poison serves: the snapshot keeps the quarantine record
// (format v2), the log after it holds more poison, and the restored
// projection ends where a replay of the whole log ends.
func TestRestartAfterPoison(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := projections.OpenSnapshots(t.Context(), log.JetStream(), 1, true)
	if err != nil {
		t.Fatal(err)
	}
	ps := poisons()
	bad := func(i int) []*nats.Msg { return []*nats.Msg{ps[i%len(ps)].msg(), ps[(i+1)%len(ps)].msg()} }
	w := &writer{t, log, map[events.Ref]uint64{}}
	good1, _ := w.publish(nil, goodEvents()[:2], bad(0))
	p, cancel, done := startProjection(t, log, snaps)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, err := snaps.Load(t.Context())
	if err != nil || len(st.Quarantined()) != 2 {
		t.Fatalf("snapshot: %v, quarantined %v", err, st)
	}
	p2, cancel2, done2 := startProjection(t, log, snaps)
	good2, _ := w.publish(p2, goodEvents()[2:], bad(5))
	defer func() { cancel2(); <-done2 }()
	last, _ := log.LastSeq(t.Context())
	if err := p2.WaitFor(t.Context(), last); err != nil {
		t.Fatal(err)
	}
	replayed := projections.NewState()
	err = log.ReadSkipping(t.Context(), 1, "", func(ev events.Event) error {
		replayed.Apply(ev)
		return nil
	}, func(de *events.DecodeError) error {
		replayed.ApplyPrepared(projections.PrepareUndecodable(de))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, h := p2.Hash(); h != replayed.Hash() {
		t.Error("the restored projection differs from a replay of the log")
	}
	if got, want := fmt.Sprint(p2.Quarantined()), fmt.Sprint(replayed.Quarantined()); got != want || len(replayed.Quarantined()) != 4 {
		t.Errorf("quarantined after restart %s, replay %s", got, want)
	}
	if got, w := objectLines(t, stateOf(t, p2)), objectLines(t, absent(t, append(good1, good2...))); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("state %s, want %s", got, w)
	}
	_ = p
}

// The parallel catch-up (chunks over two connections, decoded on every
// core) quarantines poison as the event-by-event fold does.
func TestParallelCatchUpQuarantines(t *testing.T) {
	defer logscan.Chunking(50, 100)()
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	ps := poisons()
	w := &writer{t, log, map[events.Ref]uint64{}}
	var evs []events.Event
	var bad []*nats.Msg
	for i := range 300 {
		evs = append(evs, configMapEvent(events.ObjectCreated, fmt.Sprint("cm", i), "v"))
		bad = append(bad, ps[i%len(ps)].msg())
	}
	w.publish(nil, evs, bad)
	want := projections.NewState()
	err = log.ReadSkipping(t.Context(), 1, "", func(ev events.Event) error {
		want.Apply(ev)
		return nil
	}, func(de *events.DecodeError) error {
		want.ApplyPrepared(projections.PrepareUndecodable(de))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, cancel, done := startProjection(t, log, nil)
	defer func() { cancel(); <-done }()
	if seq, h := p.Hash(); seq != want.Seq() || h != want.Hash() {
		t.Errorf("caught up to %d, want %d; hashes equal: %v", seq, want.Seq(), h == want.Hash())
	}
	if got, w := fmt.Sprint(p.Quarantined()), fmt.Sprint(want.Quarantined()); got != w || len(want.Quarantined()) != 300 {
		t.Errorf("quarantined %d, want the fold's %d", len(p.Quarantined()), len(want.Quarantined()))
	}
}
