package events_test

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
)

// BenchmarkAppend measures sequential, durable appends: file storage
// with an fsync per message (SyncAlways), an in-process connection, 2 KiB
// objects, each append an update of one of 100 objects carrying its
// expected last sequence. It reports the latency percentiles.
//
//	go test ./events -run '^$' -bench Append -benchtime 2000x
func BenchmarkAppend(b *testing.B) { benchmarkAppend(b, events.Config{}) }

// BenchmarkAppendSigned is BenchmarkAppend with every event signed
// (Config.Signer): the cost a wake writer pays for the audit to tell its
// events from a forged publish.
func BenchmarkAppendSigned(b *testing.B) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		b.Fatal(err)
	}
	benchmarkAppend(b, events.Config{Signer: kp})
}

func benchmarkAppend(b *testing.B, cfg events.Config) {
	opts := natstest.Options(b)
	opts.SyncAlways = true
	s, nc := natstest.StartWith(b, opts)
	if !s.JetStreamConfig().SyncAlways {
		b.Fatal("JetStream is not syncing every write")
	}
	l, err := events.Open(b.Context(), nc, cfg)
	if err != nil {
		b.Fatal(err)
	}
	const objects = 100
	data := fmt.Appendf(nil, `{"pad":%q}`, bytes.Repeat([]byte("x"), 2040))
	last := make([]uint64, objects)
	var lat []time.Duration
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		o := i % objects
		ev := events.Event{
			ID: events.NewID(), Type: events.ObjectUpdated, Change: events.ChangeSpec,
			Source: "wake/bench", Ref: events.Ref{Resource: "configmaps", Namespace: "bench", Name: fmt.Sprint("cm-", o)},
			APIVersion: "v1", Kind: "ConfigMap", Actor: "bench", RequestID: "bench", Data: data,
		}
		if last[o] == 0 {
			ev.Type, ev.Change = events.ObjectCreated, ""
		}
		start := time.Now()
		seq, err := l.Append(b.Context(), ev, last[o])
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		last[o] = seq
	}
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*50/100])/1e6, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99-ms")
	}
}

// BenchmarkRead measures catch-up: Read of 10,000 stored 2 KiB events
// through the ordered consumer, decoding each.
//
//	go test ./events -run '^$' -bench Read
func BenchmarkRead(b *testing.B) {
	_, nc := natstest.Start(b)
	l, err := events.Open(b.Context(), nc, events.Config{Memory: true})
	if err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	data := fmt.Appendf(nil, `{"pad":%q}`, bytes.Repeat([]byte("x"), 2040))
	for i := range n {
		ev := events.Event{
			ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/bench",
			Ref:        events.Ref{Resource: "configmaps", Namespace: "bench", Name: fmt.Sprint("cm-", i)},
			APIVersion: "v1", Kind: "ConfigMap", Actor: "bench", RequestID: "bench", Data: data,
		}
		if _, err := l.Append(b.Context(), ev, 0); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		got := 0
		if err := l.Read(b.Context(), 1, "", func(events.Event) error { got++; return nil }); err != nil || got != n {
			b.Fatalf("Read = %d, %v", got, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
