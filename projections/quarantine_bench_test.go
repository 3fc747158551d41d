package projections_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
)

// BenchmarkQuarantine is the fold's cost of one poison message, from the
// stored message to its quarantine record: decoding (which refuses it, or
// accepts it and the fold refuses it), preparing, applying, recording.
// The good case is an ordinary event, for comparison.
//
//	go test ./projections -run '^$' -bench Quarantine -benchmem
func BenchmarkQuarantine(b *testing.B) {
	good := configMapEvent(events.ObjectUpdated, "victim", "v")
	goodMsg, _ := good.Encode()
	wrongKind, _ := configMapEvent(events.ObjectCreated, "victim", "v").Encode()
	wrongKind.Header.Set(events.HeaderKind, "Pod")
	for _, c := range []struct {
		name string
		msg  *nats.Msg
	}{
		{"undecodable", &nats.Msg{Subject: "wake.obj.core.configmaps.default.garbage", Data: []byte("not an event")}},
		{"wrong-kind", wrongKind},
		{"good", goodMsg},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := projections.NewState()
			create := configMapEvent(events.ObjectCreated, "victim", "v")
			create.Seq = 1
			s.Apply(create)
			var d events.Decoder
			seq := uint64(1)
			for b.Loop() {
				seq++
				var p projections.Prepared
				ev, err := d.Decode(c.msg.Subject, c.msg.Header, c.msg.Data, seq)
				if err != nil {
					p = projections.PrepareUndecodable(&events.DecodeError{Seq: seq, Subject: c.msg.Subject, Err: err, Header: c.msg.Header, Data: c.msg.Data})
				} else {
					p = projections.PrepareDecoded(ev)
				}
				s.ApplyPrepared(p)
			}
		})
	}
}

// BenchmarkFollowPoison is the whole path of poison messages through a
// live projection: published to an in-process server (memory storage), read
// by the projection's subscription, quarantined and logged (to a
// discarding logger). Per message.
func BenchmarkFollowPoison(b *testing.B) {
	_, nc := natstest.Start(b)
	log, err := events.Open(b.Context(), nc, events.Config{Memory: true})
	if err != nil {
		b.Fatal(err)
	}
	p := projections.New(projections.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(b.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, log, nil) }()
	defer func() { cancel(); <-done }()
	select {
	case <-p.Ready():
	case <-time.After(10 * time.Second):
		b.Fatal("not ready")
	}
	js := log.JetStream()
	msg := &nats.Msg{Subject: "wake.obj.core.configmaps.default.garbage", Data: []byte("not an event")}
	b.ResetTimer()
	for range b.N {
		if _, err := js.PublishMsgAsync(msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publish not complete")
	}
	last, _ := log.LastSeq(b.Context())
	if err := p.WaitFor(b.Context(), last); err != nil {
		b.Fatal(err)
	}
	if int(p.QuarantineCount()) < b.N {
		b.Fatalf("quarantined %d of %d", p.QuarantineCount(), b.N)
	}
}
