package agent

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRankPIDs(t *testing.T) {
	cand := func(name string, priority int32, procs int64) pidCandidate {
		return pidCandidate{evictedPod: evictedPod{pod: evictPod(name, "", "", priority)}, procs: procs, known: true}
	}
	for _, tt := range []struct {
		name  string
		cands []pidCandidate
		want  []string
	}{
		{"lower priority first, whatever the count", []pidCandidate{
			cand("high", 1000, 50), cand("low", 0, 2),
		}, []string{"low", "high"}},
		{"then more processes", []pidCandidate{
			cand("few", 0, 2), cand("many", 0, 9), cand("some", 0, 5),
		}, []string{"many", "some", "few"}},
		{"no request plays a part: a pod within its memory request too", []pidCandidate{
			{evictedPod: evictedPod{pod: evictPod("guaranteed", "64Mi", "64Mi", 0)}, procs: 9, known: true}, cand("besteffort", 0, 3),
		}, []string{"guaranteed", "besteffort"}},
		{"a pod without stats before the counted of its priority", []pidCandidate{
			cand("counted", 0, 9), {evictedPod: evictedPod{pod: evictPod("unknown", "", "", 0)}}, cand("high", 10, 1),
		}, []string{"unknown", "counted", "high"}},
	} {
		rankPIDs(tt.cands)
		var got []string
		for _, c := range tt.cands {
			got = append(got, c.pod.Name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPIDPressureMessage(t *testing.T) {
	th := PressureThresholds{}.withDefaults()
	for _, tt := range []struct {
		m    Measures
		want string
	}{
		// 10% of 4096 as the kubelet computes it: 409 (float32 0.1), binary SI.
		{Measures{PIDs: 4000, PIDLimit: 4096}, "The node was low on resource: pids. Threshold quantity: 409, available: 96. "},
		// 10% of 40960 is 4096, "4Ki" in binary SI; 3000 free is "3k" in decimal SI.
		{Measures{PIDs: 37960, PIDLimit: 40960}, "The node was low on resource: pids. Threshold quantity: 4Ki, available: 3k. "},
	} {
		if got := pidPressureMessage(tt.m, th, evictPod("p", "1Mi", "", 0)); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.m, got, tt.want)
		}
	}
}

// Under PID pressure (made-up measures) the node evicts the low-priority
// pod with the most processes first, then the other low-priority one,
// then the higher-priority pod, and never the critical pod with more
// processes than any, however long the pressure lasts.
func TestPIDPressureEvicts(t *testing.T) {
	var short atomic.Bool
	h := newHarnessWith(t, func(c *Config) {
		c.PodCIDR = "10.254.0.0/24"
		c.EvictionPeriod = 100 * time.Millisecond
		c.Measure = func(dir string) Measures {
			m := Measure(dir)
			if short.Load() {
				m.PIDs, m.PIDLimit = 4000, 4096 // 96 free, under 10%
			}
			return m
		}
	})
	spawn := func(name string, priority int32, n int) {
		h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Priority: ptr(priority),
			Containers: []corev1.Container{{Name: "c", Args: []string{"spawn", strconv.Itoa(n)}}}}})
	}
	spawn("critical", systemCriticalPriority, 6)
	spawn("high", 1000, 4)
	spawn("many", 0, 3)
	spawn("few", 0, 1)
	for _, name := range []string{"critical", "high", "many", "few"} {
		h.waitPod(t, name, "Running", running)
		h.wait(t, 20*time.Second, name+" spawned", func() bool { return strings.Contains(podLogOf(h, name, "c"), "spawned") })
	}
	for name, least := range map[string]int64{"critical": 7, "high": 5, "many": 4, "few": 2} {
		p, _ := h.pod(name)
		if n, ok := podProcesses(string(p.UID)); !ok || n < least {
			t.Errorf("%s: %d processes (%v), want at least %d", name, n, ok, least)
		}
	}
	short.Store(true)
	h.wait(t, 30*time.Second, "a pod evicted", func() bool { return h.evicted("many") || h.evicted("few") })
	if !h.evicted("many") || h.evicted("few") {
		t.Fatalf("many evicted %v, few %v: want the pod with more processes first", h.evicted("many"), h.evicted("few"))
	}
	p, _ := h.pod("many")
	if want := "The node was low on resource: pids. Threshold quantity: 409, available: 96. "; p.Status.Message != want {
		t.Errorf("message %q, want %q", p.Status.Message, want)
	}
	h.waitEvent(t, "many", "Evicted", "low on resource: pids")
	h.wait(t, 30*time.Second, "few evicted", func() bool { return h.evicted("few") || h.evicted("high") })
	if !h.evicted("few") || h.evicted("high") {
		t.Fatalf("few evicted %v, high %v: want the lower priority first", h.evicted("few"), h.evicted("high"))
	}
	h.waitPod(t, "high", "Failed, Evicted", func(*corev1.Pod) bool { return h.evicted("high") })
	time.Sleep(time.Second) // ten more periods under pressure
	if p, _ := h.pod("critical"); p == nil || p.Status.Phase != corev1.PodRunning {
		t.Errorf("the critical pod: %+v", p)
	}
	short.Store(false)
}
