package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// appendDirect writes an object event straight to the log (benchmark
// setup: far faster than through the API).
func appendDirect(tb testing.TB, log *events.Log, typ events.Type, change events.Change, ref events.Ref, kind string, data map[string]any, expect uint64) uint64 {
	tb.Helper()
	raw, _ := json.Marshal(data)
	seq, err := log.Append(context.Background(), events.Event{
		ID: events.NewID(), Type: typ, Source: "wake/bench", Ref: ref, APIVersion: "v1", Kind: kind,
		Actor: "bench", RequestID: "r", Change: change, Data: raw,
	}, expect)
	if err != nil {
		tb.Fatal(err)
	}
	return seq
}

// BenchmarkHistory10000Revisions measures GET /apis/wake.io/v1/history of
// a ConfigMap with 10,000 revisions (all of them, with diffs). File storage
// (no fsync). Target: under 100 ms.
//
//	go test ./gateway -run '^$' -bench History10000 -benchtime 10x
func BenchmarkHistory10000Revisions(b *testing.B) {
	e := startHistory(b, projections.Options{}, false)
	ref := events.Ref{Resource: "configmaps", Namespace: "default", Name: "busy"}
	obj := func(i int) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "busy", "namespace": "default", "uid": "u-1", "labels": map[string]any{"app": "busy"}},
			"data":     map[string]any{"counter": strconv.Itoa(i), "static": strings.Repeat("x", 512)}}
	}
	seq := appendDirect(b, e.log, events.ObjectCreated, "", ref, "ConfigMap", obj(0), 0)
	for i := 1; i < 10000; i++ {
		seq = appendDirect(b, e.log, events.ObjectUpdated, events.ChangeSpec, ref, "ConfigMap", obj(i), seq)
	}
	var lat []time.Duration
	cpu0 := cpuTime()
	for b.Loop() {
		var h historyAnswer
		t0 := time.Now()
		code, body := e.wakeGetRaw(b, "/apis/wake.io/v1/history/core/configmaps/default/busy")
		lat = append(lat, time.Since(t0))
		if json.Unmarshal(body, &h); code != 200 || len(h.Revisions) != 10000 {
			b.Fatalf("%d: %d revisions", code, len(h.Revisions))
		}
	}
	reportPercentiles(b, "", lat)
	reportCPU(b, cpu0)
}

// BenchmarkListAt3000Pods measures a LIST of 3,000 pods at an old
// resourceVersion (resourceVersionMatch=Exact) after every pod changed
// once since. File storage (no fsync). Target: under 100 ms.
//
// The projection keeps its last 10,000 changes (the default), which cover
// the 3,000 since that revision: the list is rewound in memory.
// BenchmarkListAt3000PodsFromLog keeps 100, so the same list is rebuilt
// from the log.
//
//	go test ./gateway -run '^$' -bench ListAt3000 -benchtime 10x
func BenchmarkListAt3000Pods(b *testing.B) { benchListAt3000(b, projections.Options{}) }

// BenchmarkListAt3000PodsFromLog is BenchmarkListAt3000Pods with the
// revision out of the projection's memory: the list comes from the log.
func BenchmarkListAt3000PodsFromLog(b *testing.B) {
	benchListAt3000(b, projections.Options{History: 100})
}

func benchListAt3000(b *testing.B, opts projections.Options) {
	e := startHistory(b, opts, false)
	pod := func(i int, phase string) map[string]any {
		name := fmt.Sprintf("pod-%04d", i)
		return map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": name, "namespace": "default", "uid": "uid-" + name,
				"labels": map[string]any{"app": "web", "pod-template-hash": "5d8f7c"}},
			"spec": map[string]any{"nodeName": "node-1", "restartPolicy": "Always",
				"containers": []any{map[string]any{"name": "web", "image": "nginx:1.27", "args": []any{strings.Repeat("a", 800)},
					"resources": map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "64Mi"}}}}},
			"status": map[string]any{"phase": phase, "podIP": "10.0.0.1"}}
	}
	seqs := make([]uint64, 3000)
	batch := func(typ events.Type, change events.Change, phase string) {
		for lo := 0; lo < 3000; lo += 500 {
			var ps []events.Pending
			for i := lo; i < lo+500; i++ {
				raw, _ := json.Marshal(pod(i, phase))
				ps = append(ps, events.Pending{Expect: seqs[i], Event: events.Event{ID: events.NewID(), Type: typ, Change: change,
					Source: "wake/bench", Ref: events.Ref{Resource: "pods", Namespace: "default", Name: fmt.Sprintf("pod-%04d", i)},
					APIVersion: "v1", Kind: "Pod", Actor: "bench", RequestID: "r", Data: raw}})
			}
			for j, r := range e.log.AppendBatch(context.Background(), ps) {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
				seqs[lo+j] = r.Seq
			}
		}
	}
	batch(events.ObjectCreated, "", "Pending")
	old := seqs[2999]
	batch(events.ObjectUpdated, events.ChangeStatus, "Running")
	e.proj.WaitFor(context.Background(), seqs[2999])
	var lat []time.Duration
	cpu0 := cpuTime()
	for b.Loop() {
		var list struct {
			Metadata struct{ ResourceVersion string }
			Items    []struct{ Status struct{ Phase string } }
		}
		t0 := time.Now()
		code, body := e.wakeGetRaw(b, fmt.Sprintf("/api/v1/namespaces/default/pods?resourceVersion=%d&resourceVersionMatch=Exact", old))
		lat = append(lat, time.Since(t0))
		json.Unmarshal(body, &list)
		if code != 200 || len(list.Items) != 3000 || list.Items[0].Status.Phase != "Pending" {
			b.Fatalf("%d: %d items", code, len(list.Items))
		}
	}
	reportPercentiles(b, "", lat)
	reportCPU(b, cpu0)
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time (every goroutine, the in-process NATS
// server's included) per request since cpu0: on a shared machine it moves
// less than the latency when other work competes for the cores.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}
