package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/audit"
	"github.com/wakehq/wake/events/natstest"
)

// tamperable copies log's events, at the same sequences, into a stream on
// a second server that, unlike wake's, allows deleting and purging: the
// test plays an attacker with the server's files, or a log an older wake
// created without deny purge. It returns that stream to tamper with, and
// open, which opens the log on it (setting deny delete and deny purge,
// as any wake would) once the tampering is done.
func tamperable(t *testing.T, from *events.Log) (stream jetstream.Stream, open func() *events.Log) {
	t.Helper()
	_, nc := natstest.Start(t)
	js, _ := jetstream.New(nc)
	stream, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: events.StreamName, Subjects: []string{events.AllSubjects},
		Storage: jetstream.MemoryStorage, AllowDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	last, err := from.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= last; seq++ {
		m, err := from.Stream().GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		msg := &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}
		msg.Header.Del(jetstream.ExpectedLastSubjSeqHeader)
		if ack, err := js.PublishMsg(t.Context(), msg); err != nil || ack.Sequence != seq {
			t.Fatalf("copy of event %d: %v %+v", seq, err, ack)
		}
	}
	return stream, func() *events.Log {
		log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
		if err != nil {
			t.Fatal(err)
		}
		return log
	}
}

var appended atomic.Int64 // names objects uniquely across appendN calls

func appendN(t *testing.T, log *events.Log, n int) {
	t.Helper()
	for range n {
		i := appended.Add(1)
		name := fmt.Sprint("cm-", i)
		data, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": "default"}, "data": map[string]any{"i": fmt.Sprint(i)}})
		_, err := log.Append(t.Context(), events.Event{ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test",
			Ref: events.Ref{Resource: "configmaps", Namespace: "default", Name: name}, APIVersion: "v1", Kind: "ConfigMap",
			Actor: "alice", RequestID: fmt.Sprint("req-", i), Data: data}, 0)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// openSealed opens a log with n events, all sealed.
func openSealed(t *testing.T, n int) (*events.Log, *audit.Seals) {
	t.Helper()
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	seals, err := audit.OpenSeals(t.Context(), log.JetStream(), true)
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		appendN(t, log, n)
		sealAll(t, log, seals, uint64(n))
	}
	return log, seals
}

// sealAll runs a sealer until everything up to last is sealed.
func sealAll(t *testing.T, log *events.Log, seals *audit.Seals, last uint64) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- audit.NewSealer(log, seals, audit.Options{Every: 5, Idle: 20 * time.Millisecond}).Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if sl, err := seals.Last(t.Context()); err == nil && sl != nil && sl.Last >= last {
			return
		}
	}
	t.Fatal("not sealed in 5s")
}

func TestVerifyNamesARemovedAndRepublishedEvent(t *testing.T) {
	log, seals := openSealed(t, 20)
	r, err := audit.Verify(t.Context(), log, seals, audit.VerifyOptions{})
	if err != nil || !r.OK || r.SealedEvents != 20 || r.Seals < 4 {
		t.Fatalf("clean log: %+v %v", r, err)
	}
	stream, reopen := tamperable(t, log)

	// Rewrite event 7: delete it and publish an altered copy (JetStream
	// cannot rewrite in place; the copy lands at the end).
	m, err := stream.GetMsg(t.Context(), 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.DeleteMsg(t.Context(), 7); err != nil {
		t.Fatal(err)
	}
	log = reopen()
	forged := &nats.Msg{Subject: m.Subject, Header: m.Header, Data: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm-6","namespace":"default"},"data":{"i":"forged"}}`)}
	forged.Header.Del(jetstream.ExpectedLastSubjSeqHeader)
	forged.Header.Set(jetstream.MsgIDHeader, "forged")
	if _, err := log.JetStream().PublishMsg(t.Context(), forged); err != nil {
		t.Fatal(err)
	}
	r, err = audit.Verify(t.Context(), log, seals, audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || len(r.Problems) != 1 || r.Problems[0].Seq != 7 || r.Problems[0].Kind != "removed" {
		t.Fatalf("want event 7 removed, got %+v", r)
	}
}

// An event altered in place (a copy of the stream with one event changed,
// as a restored or rewritten store would be) is named.
func TestVerifyNamesAnAlteredEvent(t *testing.T) {
	_, ncA := natstest.Start(t)
	logA, err := events.Open(t.Context(), ncA, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	seals, err := audit.OpenSeals(t.Context(), logA.JetStream(), true)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, logA, 12)
	sealAll(t, logA, seals, 12)

	_, ncB := natstest.Start(t)
	logB, err := events.Open(t.Context(), ncB, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 12; seq++ {
		m, err := logA.Stream().GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		msg := &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}
		msg.Header.Del(jetstream.ExpectedLastSubjSeqHeader)
		if seq == 9 {
			msg.Header.Set(events.HeaderActor, "mallory")
		}
		if _, err := logB.JetStream().PublishMsg(t.Context(), msg); err != nil {
			t.Fatal(err)
		}
	}
	r, err := audit.Verify(t.Context(), logB, seals, audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || len(r.Problems) != 1 || r.Problems[0].Seq != 9 || r.Problems[0].Kind != "altered" {
		t.Fatalf("want event 9 altered, got %+v", r)
	}
}
