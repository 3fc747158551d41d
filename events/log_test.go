package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
)

func openLog(t *testing.T, cfg events.Config) (*events.Log, *nats.Conn) {
	t.Helper()
	_, nc := natstest.Start(t)
	l, err := events.Open(t.Context(), nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, nc
}

func newEvent(ref events.Ref, typ events.Type, change events.Change) events.Event {
	return events.Event{
		ID:         events.NewID(),
		Type:       typ,
		Source:     "wake/test",
		Ref:        ref,
		APIVersion: "v1",
		Kind:       "ConfigMap",
		Actor:      "tester",
		RequestID:  "req",
		Change:     change,
		Data:       fmt.Appendf(nil, `{"metadata":{"name":%q}}`, ref.Name),
	}
}

func cm(ns, name string) events.Ref {
	return events.Ref{Resource: "configmaps", Namespace: ns, Name: name}
}

func mustAppend(t *testing.T, l *events.Log, ev events.Event, expect uint64) uint64 {
	t.Helper()
	seq, err := l.Append(t.Context(), ev, expect)
	if err != nil {
		t.Fatalf("Append(%s, expect %d): %v", ev.Ref, expect, err)
	}
	return seq
}

func TestAppendExpectations(t *testing.T) {
	l, _ := openLog(t, events.Config{Memory: true})
	ref := cm("default", "kube-root-ca.crt")
	other := cm("default", "other")

	// Create: expect 0 means "no event on this subject yet", even when
	// the stream is not empty.
	s1 := mustAppend(t, l, newEvent(other, events.ObjectCreated, ""), 0)
	s2 := mustAppend(t, l, newEvent(ref, events.ObjectCreated, ""), 0)
	if s1 != 1 || s2 != 2 {
		t.Fatalf("sequences %d, %d, want 1, 2", s1, s2)
	}

	tests := []struct {
		name     string
		ev       events.Event
		expect   uint64
		wantSeq  uint64
		conflict string // substring of the conflict error, "" for success
	}{
		{"second create", newEvent(ref, events.ObjectCreated, ""), 0, 0, "exists at sequence 2"},
		{"stale update", newEvent(ref, events.ObjectUpdated, events.ChangeSpec), 1, 0, "expected last sequence 1, actual 2"},
		{"future update", newEvent(ref, events.ObjectUpdated, events.ChangeSpec), 9, 0, "actual 2"},
		{"update", newEvent(ref, events.ObjectUpdated, events.ChangeSpec), 2, 3, ""},
		{"status update", newEvent(ref, events.ObjectUpdated, events.ChangeStatus), 3, 4, ""},
		{"lost update", newEvent(ref, events.ObjectUpdated, events.ChangeSpec), 3, 0, "actual 4"},
		{"update of absent object", newEvent(cm("default", "absent"), events.ObjectUpdated, events.ChangeSpec), 4, 0, "has no events"},
		{"delete", newEvent(ref, events.ObjectDeleted, ""), 4, 5, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, err := l.Append(t.Context(), tt.ev, tt.expect)
			if tt.conflict == "" {
				if err != nil || seq != tt.wantSeq {
					t.Fatalf("Append = %d, %v, want %d", seq, err, tt.wantSeq)
				}
				return
			}
			var cerr *events.ConflictError
			if !errors.Is(err, events.ErrConflict) || !errors.As(err, &cerr) || !strings.Contains(err.Error(), tt.conflict) {
				t.Fatalf("Append = %d, %v, want conflict %q", seq, err, tt.conflict)
			}
			if !cerr.ActualKnown || cerr.Expected != tt.expect {
				t.Fatalf("conflict %+v", cerr)
			}
		})
	}
	if last, err := l.LastSeq(t.Context()); err != nil || last != 5 {
		t.Fatalf("LastSeq = %d, %v, want 5 (nothing half-written)", last, err)
	}
}

func TestAppendInvalid(t *testing.T) {
	l, _ := openLog(t, events.Config{Memory: true})
	ev := newEvent(cm("ns", "a"), events.ObjectCreated, "")
	ev.Actor = ""
	if _, err := l.Append(t.Context(), ev, 0); !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("Append without actor = %v, want ErrInvalid", err)
	}
}

func TestAppendDuplicate(t *testing.T) {
	l, _ := openLog(t, events.Config{Memory: true})
	ref := cm("ns", "a")
	create := newEvent(ref, events.ObjectCreated, "")
	seq := mustAppend(t, l, create, 0)

	// A retry of the create (same id, same expectation) returns the
	// original sequence and writes nothing.
	if again, err := l.Append(t.Context(), create, 0); err != nil || again != seq {
		t.Fatalf("retried create = %d, %v, want %d", again, err, seq)
	}
	// Still recognised after the object moved on.
	upd := newEvent(ref, events.ObjectUpdated, events.ChangeSpec)
	useq := mustAppend(t, l, upd, seq)
	if again, err := l.Append(t.Context(), create, 0); err != nil || again != seq {
		t.Fatalf("late retried create = %d, %v, want %d", again, err, seq)
	}
	if again, err := l.Append(t.Context(), upd, seq); err != nil || again != useq {
		t.Fatalf("retried update = %d, %v, want %d", again, err, useq)
	}
	// A different event with the same stale expectation is a conflict.
	if _, err := l.Append(t.Context(), newEvent(ref, events.ObjectUpdated, events.ChangeSpec), seq); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("stale update = %v, want conflict", err)
	}
	// The same id published to a subject whose expectation holds is
	// dropped by JetStream itself: the ack says duplicate, with the
	// original sequence.
	moved := create
	moved.Ref = cm("ns", "b")
	if again, err := l.Append(t.Context(), moved, 0); err != nil || again != seq {
		t.Fatalf("same id elsewhere = %d, %v, want JetStream's duplicate ack for %d", again, err, seq)
	}
	if last, _ := l.LastSeq(t.Context()); last != useq {
		t.Fatalf("LastSeq = %d, want %d", last, useq)
	}
}

// TestServerDedupOrder records what a single JetStream server answers to
// a re-published message id whose subject expectation no longer holds.
// Append copes with either answer; this test tells which one it gets.
func TestServerDedupOrder(t *testing.T) {
	l, nc := openLog(t, events.Config{Memory: true})
	js, _ := jetstream.New(nc)
	publish := func() (*jetstream.PubAck, error) {
		m := nats.NewMsg("wake.obj.core.configmaps.ns.x")
		m.Data = []byte("{}")
		return js.PublishMsg(t.Context(), m, jetstream.WithMsgID("same"), jetstream.WithExpectLastSequencePerSubject(0))
	}
	if _, err := publish(); err != nil {
		t.Fatal(err)
	}
	ack, err := publish()
	var apiErr *jetstream.APIError
	switch {
	case err == nil && ack.Duplicate && ack.Sequence == 1:
		t.Log("server checks the duplicate id first: duplicate ack with the original sequence")
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		t.Logf("server checks the expectation first: %v", err)
	default:
		t.Fatalf("unexpected answer %+v, %v", ack, err)
	}
	_ = l
}

func TestLastAndGet(t *testing.T) {
	l, _ := openLog(t, events.Config{Memory: true})
	ref := cm("ns", "a")
	if _, err := l.Last(t.Context(), ref); !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("Last of absent = %v, want ErrNotFound", err)
	}
	create := newEvent(ref, events.ObjectCreated, "")
	s1 := mustAppend(t, l, create, 0)
	mustAppend(t, l, newEvent(cm("ns", "b"), events.ObjectCreated, ""), 0)
	upd := newEvent(ref, events.ObjectUpdated, events.ChangeStatus)
	s3 := mustAppend(t, l, upd, s1)

	got, err := l.Last(t.Context(), ref)
	if err != nil || got.Seq != s3 || got.ID != upd.ID || got.Change != events.ChangeStatus || got.Time.IsZero() {
		t.Fatalf("Last = %+v, %v, want the update at %d", got, err, s3)
	}
	got, err = l.Get(t.Context(), s1)
	if err != nil || got.Seq != s1 || got.ID != create.ID || got.Ref != ref || string(got.Data) != string(create.Data) {
		t.Fatalf("Get(%d) = %+v, %v", s1, got, err)
	}
	for _, seq := range []uint64{0, 99} {
		if _, err := l.Get(t.Context(), seq); !errors.Is(err, events.ErrNotFound) {
			t.Fatalf("Get(%d) = %v, want ErrNotFound", seq, err)
		}
	}
}

// fill appends creates of configmaps in namespaces a and b, and deployments
// in a, interleaved, and returns their sequences by filter.
func fill(t *testing.T, l *events.Log, n int) map[string][]uint64 {
	t.Helper()
	want := map[string][]uint64{}
	for i := range n {
		for _, ref := range []events.Ref{
			cm("a", fmt.Sprint("cm-", i)),
			cm("b", fmt.Sprint("cm-", i)),
			{Group: "apps", Resource: "deployments", Namespace: "a", Name: fmt.Sprint("d.", i)},
		} {
			seq := mustAppend(t, l, newEvent(ref, events.ObjectCreated, ""), 0)
			want[""] = append(want[""], seq)
			want[events.FilterSubject(ref.Group, ref.Resource, "")] = append(want[events.FilterSubject(ref.Group, ref.Resource, "")], seq)
			want[events.FilterSubject(ref.Group, ref.Resource, ref.Namespace)] = append(want[events.FilterSubject(ref.Group, ref.Resource, ref.Namespace)], seq)
		}
	}
	return want
}

func TestRead(t *testing.T) {
	l, _ := openLog(t, events.Config{Memory: true})
	want := fill(t, l, 40)
	tests := []struct {
		filter string
		from   uint64
	}{
		{"", 0},
		{"", 1},
		{"", 57},
		{"", 120},
		{"", 121},
		{events.FilterSubject("", "configmaps", ""), 0},
		{events.FilterSubject("", "configmaps", "b"), 30},
		{events.FilterSubject("apps", "deployments", ""), 0},
		{events.FilterSubject("apps", "deployments", "b"), 0}, // matches nothing
		{events.FilterSubject("", "configmaps", "a"), 118},    // last match is before the last seq
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s@%d", tt.filter, tt.from), func(t *testing.T) {
			var expect []uint64
			for _, s := range want[tt.filter] {
				if s >= tt.from {
					expect = append(expect, s)
				}
			}
			var got []uint64
			err := l.Read(t.Context(), tt.from, tt.filter, func(ev events.Event) error {
				got = append(got, ev.Seq)
				return nil
			})
			if err != nil || fmt.Sprint(got) != fmt.Sprint(expect) {
				t.Fatalf("Read = %v, %v\nwant %v", got, err, expect)
			}
		})
	}

	stop := errors.New("stop")
	n := 0
	err := l.Read(t.Context(), 0, "", func(events.Event) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Fatalf("Read with failing fn = %v after %d", err, n)
	}
}

func TestReadStopsAtLastSeqOfCall(t *testing.T) {
	l, _ := openLog(t, events.Config{Memory: true})
	fill(t, l, 5)
	var got []uint64
	err := l.Read(t.Context(), 1, "", func(ev events.Event) error {
		got = append(got, ev.Seq)
		if ev.Seq == 1 { // appended during the read: not delivered
			mustAppend(t, l, newEvent(cm("late", "x"), events.ObjectCreated, ""), 0)
		}
		return nil
	})
	if err != nil || len(got) != 15 || got[14] != 15 {
		t.Fatalf("Read = %v, %v", got, err)
	}
}

func TestReadUndecodable(t *testing.T) {
	l, nc := openLog(t, events.Config{Memory: true})
	mustAppend(t, l, newEvent(cm("a", "x"), events.ObjectCreated, ""), 0)
	js, _ := jetstream.New(nc)
	if _, err := js.Publish(t.Context(), "wake.obj.core.configmaps.a.y", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	var de *events.DecodeError
	err := l.Read(t.Context(), 0, "", func(events.Event) error { return nil })
	if !errors.As(err, &de) || de.Seq != 2 || !errors.Is(err, events.ErrInvalid) {
		t.Fatalf("Read = %v, want DecodeError at 2", err)
	}
	if _, err := l.Get(t.Context(), 2); !errors.As(err, &de) {
		t.Fatalf("Get = %v, want DecodeError", err)
	}
}

func TestSubscribe(t *testing.T) {
	l, _ := openLog(t, events.Config{Memory: true})
	want := fill(t, l, 10) // 30 events before subscribing

	for i, tt := range []struct {
		filter string
		from   uint64
	}{
		{"", 0},
		{"", 25},
		{events.FilterSubject("", "configmaps", "b"), 0},
		{events.FilterSubject("apps", "deployments", ""), 10},
	} {
		t.Run(fmt.Sprintf("%s@%d", tt.filter, tt.from), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var (
				mu  sync.Mutex
				got []uint64
			)
			done := make(chan error, 1)
			go func() {
				done <- l.Subscribe(ctx, tt.from, tt.filter, func(ev events.Event) error {
					mu.Lock()
					defer mu.Unlock()
					got = append(got, ev.Seq)
					return nil
				})
			}()
			// Events appended while subscribed arrive too.
			live := cm("b", fmt.Sprint("live-", i))
			liveSeq := mustAppend(t, l, newEvent(live, events.ObjectCreated, ""), 0)
			var expect []uint64
			for _, s := range want[tt.filter] {
				if s >= tt.from {
					expect = append(expect, s)
				}
			}
			if tt.filter == "" || tt.filter == events.FilterSubject("", "configmaps", "b") {
				expect = append(expect, liveSeq)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n >= len(expect) || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Subscribe returned %v, want context.Canceled", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(expect) {
				t.Fatalf("Subscribe got %v\nwant %v", got, expect)
			}
			// Later subtests see this one's live event.
			want[""] = append(want[""], liveSeq)
			f := events.FilterSubject("", "configmaps", "b")
			want[f] = append(want[f], liveSeq)
		})
	}
}

func TestSubscribeStops(t *testing.T) {
	l, nc := openLog(t, events.Config{Memory: true})
	fill(t, l, 2)
	stop := errors.New("stop")
	err := l.Subscribe(t.Context(), 0, "", func(ev events.Event) error {
		if ev.Seq == 4 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Subscribe = %v, want fn's error", err)
	}

	done := make(chan error, 1)
	go func() { done <- l.Subscribe(t.Context(), 100, "", func(events.Event) error { return nil }) }()
	time.Sleep(50 * time.Millisecond)
	nc.Close()
	select {
	case err := <-done:
		if !errors.Is(err, events.ErrUnavailable) {
			t.Fatalf("Subscribe after close = %v, want ErrUnavailable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Subscribe did not return after the connection closed")
	}
}

func TestOpenAdoptsExistingStream(t *testing.T) {
	_, nc := natstest.Start(t)
	js, _ := jetstream.New(nc)
	// Made by someone else, with other limits and an extra subject.
	_, err := js.CreateStream(t.Context(), jetstream.StreamConfig{
		Name: events.StreamName, Subjects: []string{"wake.obj.>", "other.>"},
		Storage: jetstream.FileStorage, MaxAge: time.Hour, Duplicates: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "other.x", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	l, err := events.Open(t.Context(), nc, events.Config{MaxBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	info, err := l.Stream().Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.MaxAge != 0 || c.MaxBytes != 1<<30 || c.Duplicates != 2*time.Minute || c.MaxMsgSize != 4<<20 ||
		!c.AllowDirect || len(c.Subjects) != 2 || info.State.Msgs != 1 {
		t.Fatalf("adopted stream %+v, state %+v", c, info.State)
	}
	// Reopening is a no-op; asking for other storage is refused.
	if _, err := events.Open(t.Context(), nc, events.Config{MaxBytes: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := events.Open(t.Context(), nc, events.Config{Memory: true}); err == nil || !strings.Contains(err.Error(), "storage") {
		t.Fatalf("Open with other storage = %v, want refusal", err)
	}
	if _, err := events.Open(t.Context(), nc, events.Config{MaxAge: -1}); err == nil {
		t.Fatal("Open with negative MaxAge succeeded")
	}
}

// The log is the audit trail: a new stream and an adopted one both refuse
// a purge and the deletion of one event through the JetStream API.
func TestOpenDeniesPurgeAndDelete(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprint("existing=", existing), func(t *testing.T) {
			_, nc := natstest.Start(t)
			js, _ := jetstream.New(nc)
			if existing { // an older wake's stream: deny delete only, roll-ups allowed
				if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: events.StreamName, Subjects: []string{events.AllSubjects},
					Storage: jetstream.FileStorage, DenyDelete: true, AllowRollup: true}); err != nil {
					t.Fatal(err)
				}
			}
			l, err := events.Open(t.Context(), nc, events.Config{})
			if err != nil {
				t.Fatal(err)
			}
			mustAppend(t, l, newEvent(cm("default", "a"), events.ObjectCreated, ""), 0)
			info, err := l.Stream().Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if c := info.Config; !c.DenyPurge || !c.DenyDelete || c.AllowRollup {
				t.Fatalf("deny purge %v, deny delete %v, allow rollup %v", c.DenyPurge, c.DenyDelete, c.AllowRollup)
			}
			if err := l.Stream().Purge(t.Context()); err == nil {
				t.Fatal("purge of the log succeeded")
			}
			if err := l.Stream().DeleteMsg(t.Context(), 1); err == nil {
				t.Fatal("deleting event 1 succeeded")
			}
			if info, _ := l.Stream().Info(t.Context()); info.State.Msgs != 1 {
				t.Fatalf("%d events left, want 1", info.State.Msgs)
			}
		})
	}
}

func TestRestartKeepsEvents(t *testing.T) {
	opts := natstest.Options(t)
	s, nc := natstest.StartWith(t, opts)
	l, err := events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ref := cm("ns", "a")
	create := newEvent(ref, events.ObjectCreated, "")
	seq := mustAppend(t, l, create, 0)
	nc.Close()
	s.Shutdown()
	s.WaitForShutdown()

	_, nc = natstest.StartWith(t, opts)
	l, err = events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.Last(t.Context(), ref)
	if err != nil || got.ID != create.ID || got.Seq != seq {
		t.Fatalf("after restart Last = %+v, %v", got, err)
	}
	// The expectation still holds across the restart, and so does the
	// retry detection.
	if _, err := l.Append(t.Context(), newEvent(ref, events.ObjectCreated, ""), 0); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("create after restart = %v, want conflict", err)
	}
	if again, err := l.Append(t.Context(), create, 0); err != nil || again != seq {
		t.Fatalf("retried create after restart = %d, %v", again, err)
	}
	mustAppend(t, l, newEvent(ref, events.ObjectUpdated, events.ChangeSpec), seq)
}

func TestUnavailable(t *testing.T) {
	l, nc := openLog(t, events.Config{Memory: true})
	nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := l.Append(ctx, newEvent(cm("a", "b"), events.ObjectCreated, ""), 0); !errors.Is(err, events.ErrUnavailable) {
		t.Fatalf("Append on closed connection = %v, want ErrUnavailable", err)
	}
	if _, err := l.LastSeq(ctx); !errors.Is(err, events.ErrUnavailable) {
		t.Fatalf("LastSeq on closed connection = %v, want ErrUnavailable", err)
	}
}
