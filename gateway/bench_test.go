package gateway_test

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// These benchmarks run the gateway in-process over memory storage
// (events.Config{Memory: true}) and an httptest TLS server: they measure the
// gateway, client-go and the projection, not fsync. `wake bench` measures a
// real `wake up` with durable appends.
//
//	go test ./gateway -run '^$' -bench 'Create|UpdateToWatch' -benchtime 2000x
//	go test ./gateway -run '^$' -bench List -benchtime 20x

// BenchmarkCreate measures sequential ConfigMap creates through client-go,
// reporting the latency percentiles. Memory storage: no fsync.
func BenchmarkCreate(b *testing.B) {
	e := start(b)
	cms := e.client.CoreV1().ConfigMaps("default")
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("cm-", i)}, Data: map[string]string{"k": "v"}}
		t0 := time.Now()
		if _, err := cms.Create(b.Context(), cm, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportPercentiles(b, "", lat)
}

// BenchmarkUpdateToWatch measures, for sequential ConfigMap updates, the
// time from sending the update to receiving its MODIFIED event on a watch
// opened beforehand (p50/p99-ms), and the update itself (update-p50/p99-ms).
// Memory storage: no fsync.
func BenchmarkUpdateToWatch(b *testing.B) {
	e := start(b)
	cms := e.client.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(b.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watched"}, Data: map[string]string{"n": "0"}}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	w, err := cms.Watch(b.Context(), metav1.ListOptions{ResourceVersion: cm.ResourceVersion})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	type arrival struct {
		rv string
		at time.Time
	}
	arrivals := make(chan arrival, 1024)
	go func() {
		defer close(arrivals)
		for ev := range w.ResultChan() {
			if c, ok := ev.Object.(*corev1.ConfigMap); ok && ev.Type == watch.Modified {
				arrivals <- arrival{c.ResourceVersion, time.Now()}
			}
		}
	}()
	var delivery, upd []time.Duration
	for i := 0; b.Loop(); i++ {
		cm.Data["n"] = strconv.Itoa(i + 1)
		t0 := time.Now()
		if cm, err = cms.Update(b.Context(), cm, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		upd = append(upd, time.Since(t0))
		delivered := false
		for a := range arrivals {
			if a.rv == cm.ResourceVersion {
				delivery, delivered = append(delivery, a.at.Sub(t0)), true
				break
			}
		}
		if !delivered {
			b.Fatalf("the watch ended before resourceVersion %s", cm.ResourceVersion)
		}
	}
	reportPercentiles(b, "", delivery)
	reportPercentiles(b, "update-", upd)
}

// BenchmarkList3000Pods measures one LIST of 3,000 small pods in a
// namespace: as client-go's typed List asks for it (decoded into a PodList),
// as raw JSON (not decoded), and as a Table, as kubectl asks for it.
// Memory storage: the pods are created without fsync.
func BenchmarkList3000Pods(b *testing.B) {
	const n = 3000
	e := start(b)
	pods := e.client.CoreV1().Pods("default")
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < n; i = next.Add(1) - 1 {
				p := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("pod-", i), Labels: map[string]string{"app": "bench"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
				}
				if _, err := pods.Create(b.Context(), p, metav1.CreateOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	b.Run("typed", func(b *testing.B) {
		for b.Loop() {
			l, err := pods.List(b.Context(), metav1.ListOptions{})
			if err != nil || len(l.Items) != n {
				b.Fatalf("List: %v", err)
			}
		}
	})
	b.Run("paged500", func(b *testing.B) {
		// kubectl's and client-go pagers' way: pages of 500, the later
		// ones cut from the list at the first page's revision.
		for b.Loop() {
			got, next := 0, ""
			for {
				l, err := pods.List(b.Context(), metav1.ListOptions{Limit: 500, Continue: next})
				if err != nil {
					b.Fatal(err)
				}
				got += len(l.Items)
				if next = l.Continue; next == "" {
					break
				}
			}
			if got != n {
				b.Fatalf("pages held %d pods, want %d", got, n)
			}
		}
	})
	for _, accept := range []struct{ name, header string }{
		{"raw", "application/json"},
		{"table", "application/json;as=Table;v=v1;g=meta.k8s.io"},
	} {
		b.Run(accept.name, func(b *testing.B) {
			for b.Loop() {
				req := e.client.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").SetHeader("Accept", accept.header)
				if _, err := req.DoRaw(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportPercentiles reports p50 and p99 of lat in milliseconds.
func reportPercentiles(b *testing.B, prefix string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p int) float64 { return float64(lat[max(0, (len(lat)*p+99)/100-1)]) / 1e6 }
	b.ReportMetric(at(50), prefix+"p50-ms")
	b.ReportMetric(at(99), prefix+"p99-ms")
}
