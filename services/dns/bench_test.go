package dns

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// BenchmarkQueryUDP measures queries per second and latency over UDP
// loopback against a real Projection holding 1,000 Services with three
// endpoints each. Queries cycle through the Services' A records.
//
//	go test -run '^$' -bench QueryUDP ./services/dns/
//
// sequential: one client, one query in flight (latency alone);
// clients=N: N clients at once (throughput; latency includes queueing).
func BenchmarkQueryUDP(b *testing.B) {
	const services = 1000
	c := liveCluster(b)
	c.put(namespace("bench"))
	for i := range services {
		name := fmt.Sprintf("svc-%d", i)
		c.put(
			newService("bench", name, fmt.Sprintf("10.96.%d.%d", i/250, i%250+1), svcPort("http", corev1.ProtocolTCP, 80)),
			slice("bench", name+"-1", name, []discoveryv1.EndpointPort{slicePort("http", 8080)},
				ep{ip: fmt.Sprintf("10.244.%d.%d", i/80, i%80*3+1), ready: true},
				ep{ip: fmt.Sprintf("10.244.%d.%d", i/80, i%80*3+2), ready: true},
				ep{ip: fmt.Sprintf("10.244.%d.%d", i/80, i%80*3+3), ready: true}),
		)
	}
	s := startServer(b, c, Config{})
	queries := make([][]byte, services)
	for i := range queries {
		m := new(dns.Msg).SetQuestion(fmt.Sprintf("svc-%d.bench.svc.cluster.local.", i), dns.TypeA)
		queries[i], _ = m.Pack()
	}
	run := func(b *testing.B, clients int) {
		var mu sync.Mutex
		var all []time.Duration
		var next int64
		var wg sync.WaitGroup
		per := b.N/clients + 1
		b.ResetTimer()
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := dns.Dial("udp", s.Addr())
				if err != nil {
					b.Error(err)
					return
				}
				defer conn.Close()
				lat := make([]time.Duration, 0, per)
				buf := make([]byte, 512)
				for range per {
					mu.Lock()
					q := queries[next%services]
					next++
					mu.Unlock()
					t0 := time.Now()
					if _, err := conn.Write(q); err != nil {
						b.Error(err)
						return
					}
					conn.SetReadDeadline(time.Now().Add(2 * time.Second))
					n, err := conn.Conn.Read(buf)
					if err != nil || n < 12 || buf[3]&0xf != 0 {
						b.Errorf("query failed: %v (%d bytes)", err, n)
						return
					}
					lat = append(lat, time.Since(t0))
				}
				mu.Lock()
				all = append(all, lat...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		slices.Sort(all)
		if len(all) == 0 {
			return
		}
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "queries/s")
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("sequential", func(b *testing.B) { run(b, 1) })
	b.Run("clients=2", func(b *testing.B) { run(b, 2) })
	b.Run("clients=8", func(b *testing.B) { run(b, 8) })
}

// BenchmarkLookup is the index alone: one answer from 1,000 Services.
func BenchmarkLookup(b *testing.B) {
	c := newCluster(b)
	c.put(namespace("bench"))
	for i := range 1000 {
		c.put(newService("bench", fmt.Sprintf("svc-%d", i), fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)))
	}
	ix := c.index()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if r := ix.Lookup("svc-500.bench.svc.cluster.local.", dns.TypeA); len(r.Answer) != 1 {
			b.Fatal(r)
		}
	}
}
