package agent

import (
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func evictPod(name string, req, limit string, priority int32) *corev1.Pod {
	c := corev1.Container{Name: "c"}
	if req != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(req), corev1.ResourceCPU: resource.MustParse("100m")}
	}
	if limit != "" {
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit), corev1.ResourceCPU: resource.MustParse("100m")}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}, Priority: &priority}}
}

func TestPickVictim(t *testing.T) {
	mi := int64(1 << 20)
	for _, tt := range []struct {
		name  string
		cands []evictionCandidate
		want  string
	}{
		{"BestEffort before Guaranteed", []evictionCandidate{
			{pod: evictPod("guaranteed", "64Mi", "64Mi", 0), usage: 60 * mi},
			{pod: evictPod("besteffort", "", "", 0), usage: 5 * mi},
		}, "besteffort"},
		{"over its request first", []evictionCandidate{
			{pod: evictPod("within", "100Mi", "", 0), usage: 50 * mi},
			{pod: evictPod("over", "10Mi", "", 0), usage: 20 * mi},
		}, "over"},
		{"lower priority first", []evictionCandidate{
			{pod: evictPod("high", "", "", 1000), usage: 50 * mi},
			{pod: evictPod("low", "", "", 0), usage: 10 * mi},
		}, "low"},
		{"most over its request", []evictionCandidate{
			{pod: evictPod("little", "", "", 0), usage: 10 * mi},
			{pod: evictPod("much", "", "", 0), usage: 90 * mi},
		}, "much"},
		{"critical pods never", []evictionCandidate{
			{pod: evictPod("critical", "", "", 2_000_000_000), usage: 90 * mi},
		}, ""},
	} {
		got := pickVictim(tt.cands)
		if name := ""; got != nil {
			name = got.pod.Name
			if name != tt.want {
				t.Errorf("%s: evicts %q, want %q", tt.name, name, tt.want)
			}
		} else if tt.want != "" {
			t.Errorf("%s: evicts none, want %q", tt.name, tt.want)
		}
	}
}

// Under memory pressure the node evicts its BestEffort pod (Failed,
// Evicted, containers stopped) and keeps the Guaranteed one.
func TestMemoryPressureEvicts(t *testing.T) {
	var short atomic.Bool
	var h *harness
	// Memory is short until the BestEffort pod is gone, as if its
	// usage were what ran the node short.
	evicted := func() bool {
		p, _ := h.pod("besteffort")
		return p != nil && p.Status.Phase == corev1.PodFailed
	}
	h = newHarnessWith(t, func(c *Config) {
		c.PodCIDR = "10.254.0.0/24"
		c.EvictionPeriod = 100 * time.Millisecond
		c.Measure = func(dir string) Measures {
			m := Measure(dir)
			if short.Load() && !evicted() {
				m.MemAvailable = 10 << 20 // under the 100Mi threshold
			}
			return m
		}
	})
	g := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("100m")}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "guaranteed"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Args: []string{"sleep", "3600"}, Resources: corev1.ResourceRequirements{Requests: g, Limits: g}}}}})
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "besteffort"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Args: []string{"sleep", "3600"}}}}})
	h.waitPod(t, "guaranteed", "Running", running)
	h.waitPod(t, "besteffort", "Running", running)
	short.Store(true)
	p := h.waitPod(t, "besteffort", "Failed, Evicted", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted"
	})
	if p.Status.Message == "" {
		t.Error("evicted without a message")
	}
	time.Sleep(500 * time.Millisecond) // a few more periods: nothing else goes
	if g, _ := h.pod("guaranteed"); g == nil || g.Status.Phase != corev1.PodRunning {
		t.Errorf("the Guaranteed pod: %+v", g)
	}
	ctrs, _ := h.agent.rt.List(t.Context())
	for _, c := range ctrs {
		if c.SandboxID == string(p.UID) {
			t.Errorf("the evicted pod's container %s is still there", c.ID)
		}
	}
}
