package scheduler

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wakehq/wake/events/natstest"
)

// BenchmarkSchedule measures the pure core: one round deciding every pod
// against one snapshot, assuming each placement before the next decision,
// as the service does. It reports decisions per second and the p99 of one
// decision.
//
//	go test -run '^$' -bench Schedule ./services/scheduler/
func BenchmarkSchedule(b *testing.B) {
	for _, size := range []struct{ nodes, pods int }{{100, 1000}, {5000, 10000}} {
		b.Run(fmt.Sprintf("nodes=%d/pods=%d", size.nodes, size.pods), func(b *testing.B) {
			ns := nodes(size.nodes, 32000, 65536, 110)
			pods := make([]*corev1.Pod, size.pods)
			for i := range pods {
				pods[i] = pod(fmt.Sprintf("p-%05d", i), 100, 128)
			}
			lat := make([]time.Duration, 0, size.pods)
			var total time.Duration
			decisions := 0
			for b.Loop() {
				b.StopTimer()
				s := NewSnapshot(ns, nil, nil)
				lat = lat[:0]
				b.StartTimer()
				for i, p := range pods {
					start := time.Now()
					d := Schedule(s, p, string(p.UID)+"/"+strconv.Itoa(i))
					if d.Node == "" {
						b.Fatalf("%s unschedulable: %s", p.Name, d.Message)
					}
					pi, _ := NewPodInfo(p, 0)
					s.Assume(pi, d.Node)
					el := time.Since(start)
					lat = append(lat, el)
					total += el
				}
				decisions += len(pods)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(decisions)/total.Seconds(), "decisions/s")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkBindThroughput measures the whole durable path: 100 nodes and
// 1,000 pending pods in a file-backed JetStream that fsyncs every write
// (SyncAlways), then the scheduler starts and binds them all; it reports
// pods bound per second, from start until the view shows every binding;
// the same with 5,000 nodes.
//
//	go test -run '^$' -bench BindThroughput -benchtime 3x ./services/scheduler/
func BenchmarkBindThroughput(b *testing.B) {
	for _, size := range []struct{ nodes, pods int }{{100, 1000}, {5000, 1000}} {
		b.Run(fmt.Sprintf("nodes=%d/pods=%d", size.nodes, size.pods), func(b *testing.B) {
			benchBind(b, size.nodes, size.pods)
		})
	}
}

func benchBind(b *testing.B, numNodes, numPods int) {
	var bound int
	var took time.Duration
	for b.Loop() {
		b.StopTimer()
		opts := natstest.Options(b)
		opts.SyncAlways = true
		e := startEnv(b, opts, false)
		var objs []runtime.Object
		for _, n := range nodes(numNodes, 32000, 65536, 110) {
			objs = append(objs, n)
		}
		for i := range numPods {
			objs = append(objs, pod(fmt.Sprintf("p-%04d", i), 100, 128))
		}
		for chunk := range slices.Chunk(objs, 2000) {
			e.create(b, chunk...)
		}
		b.StartTimer()
		start := time.Now()
		s := e.run(b)
		for s.Bound.Load() < int64(numPods) {
			time.Sleep(time.Millisecond)
		}
		last, err := e.log.LastSeq(e.ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.proj.WaitFor(e.ctx, last); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
		bound += numPods
		b.StopTimer()
		if n := count(e.pods(b), isBound); n != numPods {
			b.Fatalf("%d pods bound, want %d", n, numPods)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(bound)/took.Seconds(), "pods/s")
}
