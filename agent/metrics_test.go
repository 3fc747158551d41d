package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/metrics"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func sample(sec int, cpu uint64, mem int64) usageSample {
	return usageSample{at: t0.Add(time.Duration(sec) * time.Second), cpu: cpu, memory: mem}
}

func TestMetricsUsageRate(t *testing.T) {
	for _, tc := range []struct {
		name       string
		prev, last usageSample
		minWindow  time.Duration
		want       metrics.Usage
		ok         bool
	}{
		{"one core", sample(0, 1e9, 5), sample(15, 16e9, 7), time.Second,
			metrics.Usage{Timestamp: t0.Add(15 * time.Second), Window: 15 * time.Second, CPU: 1e9, Memory: 7}, true},
		{"idle", sample(0, 42, 5), sample(10, 42, 5), time.Second,
			metrics.Usage{Timestamp: t0.Add(10 * time.Second), Window: 10 * time.Second, CPU: 0, Memory: 5}, true},
		{"quarter core", sample(0, 0, 1), sample(4, 1e9, 1), time.Second,
			metrics.Usage{Timestamp: t0.Add(4 * time.Second), Window: 4 * time.Second, CPU: 25e7, Memory: 1}, true},
		// 64 cores busy for 15s: the delta times 1e9 would overflow uint64.
		{"many cores", sample(0, 0, 1), sample(15, 64*15e9, 1), time.Second,
			metrics.Usage{Timestamp: t0.Add(15 * time.Second), Window: 15 * time.Second, CPU: 64e9, Memory: 1}, true},
		{"counter reset", sample(0, 9e9, 1), sample(15, 1e9, 1), time.Second, metrics.Usage{}, false},
		{"too short a window", sample(0, 0, 1), sample(1, 1e9, 1), 2 * time.Second, metrics.Usage{}, false},
		{"same time", sample(3, 0, 1), sample(3, 1e9, 1), 0, metrics.Usage{}, false},
		{"clock went back", sample(3, 0, 1), sample(1, 1e9, 1), 0, metrics.Usage{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := usageRate(tc.prev, tc.last, tc.minWindow)
			if ok != tc.ok || got != tc.want {
				t.Errorf("usageRate = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// The store keeps two samples a series, forgets pods and containers that
// are gone, answers only what has two samples, and starts a restarted
// container (a new runtime id) afresh.
func TestMetricsStore(t *testing.T) {
	st := &usageStore{}
	round := func(sec int, cpu uint64, ctrs map[string]containerRound) usageRound {
		n := sample(sec, cpu*2, 1000)
		return usageRound{node: &n, pods: map[string]podRound{"uid-a": {pod: sample(sec, cpu, 100), containers: ctrs}}}
	}
	ctr := func(name string, sec int, cpu uint64) containerRound {
		return containerRound{name: name, usage: sample(sec, cpu, 10)}
	}
	all := metrics.Request{V: metrics.Version, Node: true, AllPods: true}

	st.record(round(0, 0, map[string]containerRound{"c_0": ctr("c", 0, 0)}))
	if r := st.answer(all, time.Second); r.Node != nil || len(r.Pods) != 0 {
		t.Fatalf("one sample answered %+v", r)
	}
	st.record(round(10, 10e9, map[string]containerRound{"c_0": ctr("c", 10, 5e9), "d_0": ctr("d", 10, 1e9)}))
	r := st.answer(all, time.Second)
	if r.Node == nil || r.Node.CPU != 2e9 || r.Node.Memory != 1000 || r.Node.Window != 10*time.Second {
		t.Fatalf("node = %+v", r.Node)
	}
	if len(r.Pods) != 1 || r.Pods[0].UID != "uid-a" || r.Pods[0].Usage.CPU != 1e9 {
		t.Fatalf("pods = %+v", r.Pods)
	}
	if c := r.Pods[0].Containers; len(c) != 1 || c[0].Name != "c" || c[0].Usage.CPU != 5e8 || c[0].Usage.Memory != 10 {
		t.Fatalf("containers = %+v (d has one sample only)", c)
	}

	// c restarted (c_1), d has its second sample.
	st.record(round(20, 20e9, map[string]containerRound{"c_1": ctr("c", 20, 1e9), "d_0": ctr("d", 20, 3e9)}))
	r = st.answer(metrics.Request{V: metrics.Version, Pods: []string{"uid-a", "uid-a", "uid-gone"}}, time.Second)
	if r.Node != nil {
		t.Errorf("node usage answered without being asked: %+v", r.Node)
	}
	if len(r.Pods) != 1 || len(r.Pods[0].Containers) != 1 || r.Pods[0].Containers[0].Name != "d" || r.Pods[0].Containers[0].Usage.CPU != 2e8 {
		t.Fatalf("after a restart: %+v", r.Pods)
	}
	if len(st.pods["uid-a"].containers) != 2 {
		t.Errorf("series kept: %v, want c_1 and d_0", st.pods["uid-a"].containers)
	}

	// The pod went away.
	st.record(usageRound{})
	if r := st.answer(all, time.Second); len(r.Pods) != 0 || len(st.pods) != 0 {
		t.Errorf("a gone pod is still answered: %+v", r.Pods)
	}
}

func TestMetricsRequestChecked(t *testing.T) {
	st := &usageStore{}
	many, _ := json.Marshal(metrics.Request{V: metrics.Version, Pods: make([]string, metrics.MaxPods+1)})
	long, _ := json.Marshal(metrics.Request{V: metrics.Version, Pods: []string{strings.Repeat("x", metrics.MaxUIDLength+1)}})
	for _, tc := range []struct{ name, data, want string }{
		{"not json", "{", "not understood"},
		{"no version", `{"node":true}`, "version 0"},
		{"future version", `{"v":2}`, "version 2"},
		{"too many pods", string(many), "at most 1024"},
		{"long uid", string(long), "uid of 129 bytes"},
		{"too big", `{"v":1,"pods":["` + strings.Repeat("x", metrics.MaxRequestLen) + `"]}`, "bytes, at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := answerMetrics(st, []byte(tc.data), time.Second)
			if r.Error == nil || r.Error.Reason != metrics.ReasonBadRequest || !strings.Contains(r.Error.Message, tc.want) {
				t.Errorf("error = %+v, want BadRequest with %q", r.Error, tc.want)
			}
		})
	}
	if r := answerMetrics(st, []byte(`{"v":1,"node":true,"allPods":true}`), time.Second); r.Error != nil {
		t.Errorf("a good request failed: %v", r.Error)
	}
}

// TestMetricsOfBurningContainer reads a real container's cgroups: a pod
// that keeps one CPU busy shows a CPU rate and a working set after two
// samples, as does the node, through the agent's NATS answer.
func TestMetricsOfBurningContainer(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) {
		c.PodCIDR, c.Bridge = "10.251.0.0/24", fmt.Sprintf("wkt%d", os.Getpid()%100000)
		c.MetricsResolution = 500 * time.Millisecond
	})
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "burner"}, Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr(int64(1)),
		Containers:                    []corev1.Container{{Name: "burn", Args: []string{"burn", "600"}}},
	}})
	t.Cleanup(func() { h.deletePod(t, "burner") })
	p := h.waitPod(t, "burner", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	c := metrics.Client{NC: h.log.JetStream().Conn()}
	var last metrics.Reply
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		r, err := c.Get(ctx, h.node, metrics.Request{Node: true, Pods: []string{string(p.UID)}})
		cancel()
		if err != nil {
			t.Fatalf("metrics of node %s: %v", h.node, err)
		}
		last = r
		if r.Node != nil && len(r.Pods) == 1 && len(r.Pods[0].Containers) == 1 && r.Pods[0].Containers[0].Usage.CPU > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := json.Marshal(last)
	if last.Node == nil || last.Node.CPU == 0 || last.Node.Memory <= 0 || last.Node.Window <= 0 {
		t.Fatalf("node usage: %s", b)
	}
	if len(last.Pods) != 1 {
		t.Fatalf("no usage of the burning pod in 30s: %s", b)
	}
	pu := last.Pods[0]
	if pu.UID != string(p.UID) || pu.Usage.CPU == 0 || pu.Usage.Memory <= 0 || pu.Usage.Window < 250*time.Millisecond {
		t.Errorf("pod usage: %s", b)
	}
	if len(pu.Containers) != 1 || pu.Containers[0].Name != "burn" || pu.Containers[0].Usage.CPU == 0 || pu.Containers[0].Usage.Memory <= 0 {
		t.Errorf("container usage: %s", b)
	}
	// One CPU busy is close to 1e9 nanocores; on a loaded machine less.
	if cpu := pu.Containers[0].Usage.CPU; cpu < 5e7 || cpu > 1.5e9 {
		t.Errorf("a container burning one CPU used %d nanocores", cpu)
	}
	t.Logf("usage: %s", b)
}

// FuzzMetricsRequest: whatever arrives on the metrics subject, the agent
// answers (an error or usage), never panics, and answers usage only to a
// request Check accepts.
func FuzzMetricsRequest(f *testing.F) {
	f.Add([]byte(`{"v":1,"node":true,"allPods":true}`))
	f.Add([]byte(`{"v":1,"pods":["a","b"]}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"pods":[""]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"v":1,"pods":null,"node":"yes"}`))
	st := &usageStore{}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := answerMetrics(st, data, time.Second)
		var req metrics.Request
		valid := len(data) <= metrics.MaxRequestLen && json.Unmarshal(data, &req) == nil && req.Check() == nil
		if valid != (r.Error == nil) {
			t.Fatalf("request %q: valid %v, answered error %v", data, valid, r.Error)
		}
		if r.Error != nil && (r.Error.Reason != metrics.ReasonBadRequest || r.Error.Message == "") {
			t.Fatalf("request %q: error %+v, want a BadRequest with a message", data, r.Error)
		}
	})
}
