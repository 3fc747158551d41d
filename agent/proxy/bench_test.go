package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// BenchmarkEndpointChangeToKernel measures the time from an EndpointSlice
// event applied to the projection to the rules being live in the kernel
// (a fresh network namespace), with 1,000 Services of 10 endpoints each
// programmed. Run: go test -run '^$' -bench EndpointChange ./agent/proxy/
func BenchmarkEndpointChangeToKernel(b *testing.B) {
	for _, debounce := range []time.Duration{10 * time.Millisecond, time.Millisecond} {
		b.Run(fmt.Sprintf("debounce=%s", debounce), func(b *testing.B) { benchEndpointChange(b, debounce) })
	}
}

func benchEndpointChange(b *testing.B, debounce time.Duration) {
	n := newTestNS(b)
	v := &fakeView{Projection: projections.New(projections.Options{})}
	const services = 1000
	for i := range services {
		name := fmt.Sprintf("svc-%d", i)
		vip := netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)}).String()
		v.put(b, events.ObjectCreated, svcRef("default", name), service("default", name, "ClusterIP", vip, port{Port: 80}))
		base := netip.AddrFrom4([4]byte{10, 244, byte(i >> 8), byte(i)}).String()
		v.put(b, events.ObjectCreated, sliceRef("default", name), endpointSlice("default", name, name, "IPv4", addrs(10, netip.MustParseAddr(base).String()), port{Port: 8080}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := New(Config{View: v, Conn: n.conn, Debounce: debounce})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if err := p.WaitFor(ctx, v.seq); err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("svc-%d", i%services)
		eps := addrs(10, "10.250.0.1")
		eps[i%10].ready = no // one endpoint leaves, another comes back
		start := time.Now()
		seq := v.put(b, events.ObjectUpdated, sliceRef("default", name), endpointSlice("default", name, name, "IPv4", eps, port{Port: 8080}))
		if err := p.WaitFor(ctx, seq); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	if p.Failures() != 0 {
		b.Errorf("%d failed updates", p.Failures())
	}
	cancel()
	<-done
}
