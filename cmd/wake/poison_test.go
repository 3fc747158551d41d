package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
)

// poisonMessages are messages that are not valid events, as anyone with
// credentials to the stream could publish them: one of each kind the
// projection quarantines.
func poisonMessages(t *testing.T) map[string]*nats.Msg {
	t.Helper()
	valid := func(typ events.Type, name string, edit func(*nats.Msg)) *nats.Msg {
		ev := events.Event{ID: events.NewID(), Type: typ, Source: "wake/intruder", Time: time.Now(),
			Ref:        events.Ref{Resource: "configmaps", Namespace: "default", Name: name},
			APIVersion: "v1", Kind: "ConfigMap", Actor: "intruder", RequestID: "r",
			Data: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `","namespace":"default"},"data":{"k":"poisoned"}}`)}
		if typ == events.ObjectUpdated {
			ev.Change = events.ChangeSpec
		}
		m, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		edit(m)
		return m
	}
	none := func(*nats.Msg) {}
	return map[string]*nats.Msg{
		"no headers":         {Subject: "wake.obj.core.configmaps.default.garbage", Data: []byte("not an event")},
		"wrong specversion":  valid(events.ObjectCreated, "spec", func(m *nats.Msg) { m.Header.Set(events.HeaderSpecVersion, "0.3") }),
		"change on a create": valid(events.ObjectCreated, "change", func(m *nats.Msg) { m.Header.Set(events.HeaderChange, "spec") }),
		"truncated JSON":     valid(events.ObjectCreated, "truncated", func(m *nats.Msg) { m.Data = m.Data[:20] }),
		"kind not the subject's": valid(events.ObjectCreated, "kind", func(m *nats.Msg) {
			m.Header.Set(events.HeaderKind, "Pod")
		}),
		"update of a missing object": valid(events.ObjectUpdated, "ghost", none),
		"delete of a missing object": valid(events.ObjectDeleted, "ghost", none),
		"huge garbage headers": valid(events.ObjectCreated, "huge", func(m *nats.Msg) {
			m.Header.Set(events.HeaderActor, strings.Repeat("\xffgarbage", 4<<10))
			m.Header.Set(events.HeaderTime, "yesterday")
		}),
	}
}

// Poison of every kind, published straight to the stream, never takes
// the cluster down: kubectl keeps working (also on the poisoned names),
// each message gets one Warning Event, replay and audit list them, and
// `wake up` restarts and serves.
func TestPoisonLeavesKubectlWorking(t *testing.T) {
	srv, nc := natstest.Start(t)
	dir := t.TempDir()
	start := func() *cluster {
		return startWakeWith(t, upConfig{dataDir: dir, listen: "127.0.0.1:0", natsURL: srv.ClientURL()})
	}
	c := start()
	c.must(t, "create", "configmap", "before", "--from-literal=k=v")

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	msgs := poisonMessages(t)
	var poisoned []uint64
	for name, m := range msgs {
		ack, err := js.PublishMsg(t.Context(), m)
		if err != nil {
			t.Fatalf("publish %s: %v", name, err)
		}
		poisoned = append(poisoned, ack.Sequence)
	}

	c.must(t, "create", "configmap", "after", "--from-literal=k=v")
	contains(t, c.must(t, "get", "cm"), "before", "after")
	// Names with poison on their subject can be created and written.
	for _, name := range []string{"garbage", "spec", "ghost", "kind"} {
		c.must(t, "create", "configmap", name, "--from-literal=k=clean")
		c.must(t, "patch", "cm", name, "--type=merge", "-p", `{"data":{"k":"patched"}}`)
		contains(t, c.must(t, "get", "cm", name, "-o", "jsonpath={.data.k}"), "patched")
	}
	waitFor(t, func() bool {
		out, _ := c.kubectl("", "get", "events", "--no-headers")
		return strings.Count(out, "EventQuarantined") == len(msgs)
	})
	// The log as CloudEvents reads past the poison.
	contains(t, wakeRun(t, c, runEvents, "-o", "wide"), "configmaps/default/before", "configmaps/default/after", "configmaps/default/garbage")
	out := wakeRun(t, c, runReplay, "--verify")
	contains(t, out, "match", fmt.Sprintf("%d quarantined", len(msgs)), "ce-specversion", "does not exist")
	if n := strings.Count(out, "  event "); n != len(msgs) {
		t.Errorf("replay lists %d quarantined messages, want %d:\n%s", n, len(msgs), out)
	}
	// The audit lists them too, and, as no wake writer signed them, fails
	// naming each until an operator records its removal.
	verify := func() (string, error) {
		var out bytes.Buffer
		err := runAuditVerify(t.Context(), []string{"--kubeconfig", c.kubeconfig}, &out)
		return out.String(), err
	}
	waitFor(t, func() bool {
		out, err := verify()
		return err != nil && strings.Count(out, "  event ") == len(msgs) && strings.Count(out, ": unsigned: ") == len(msgs)
	})
	t.Setenv("WAKE_DATA", dir) // wake audit remove records as wake up's admin
	for _, seq := range poisoned {
		var out bytes.Buffer
		if err := runAuditRemove(t.Context(), []string{"--nats", srv.ClientURL(), fmt.Sprint(seq), "--reason", "poison"}, &out); err != nil {
			t.Fatalf("wake audit remove %d: %v\n%s", seq, err, out.String())
		}
	}
	if out, err := verify(); err != nil || strings.Count(out, "removed by") != len(msgs) {
		t.Errorf("wake audit verify after the removals: %v\n%s", err, out)
	}

	// A restart after poison serves.
	c.stop()
	c = start()
	contains(t, c.must(t, "get", "cm"), "before", "after", "garbage", "ghost")
	c.must(t, "create", "configmap", "restarted")
	out, _ = c.kubectl("", "get", "events", "--no-headers")
	if n := strings.Count(out, "EventQuarantined"); n != len(msgs) {
		t.Errorf("%d Warning Events after the restart, want %d (one per message, once)", n, len(msgs))
	}
}
