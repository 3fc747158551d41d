package eviction

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestEvaluatePressure(t *testing.T) {
	const mi = 1 << 20
	ok := Measures{MemAvailable: 500 * mi, DiskAvailable: 50, DiskSize: 100, PIDs: 100, PIDLimit: 4096}
	tests := []struct {
		name string
		m    Measures
		th   Thresholds
		want Pressure
	}{
		{"none", ok, Thresholds{}, Pressure{}},
		{"memory under 100Mi", Measures{MemAvailable: 99 * mi, DiskAvailable: 50, DiskSize: 100, PIDLimit: 10}, Thresholds{}, Pressure{Memory: true}},
		{"memory at 100Mi is fine", Measures{MemAvailable: 100 * mi}, Thresholds{}, Pressure{}},
		{"memory threshold configured", ok, Thresholds{MemoryAvailable: resource.MustParse("1Gi")}, Pressure{Memory: true}},
		{"disk under 10%", Measures{MemAvailable: 500 * mi, DiskAvailable: 9, DiskSize: 100}, Thresholds{}, Pressure{Disk: true}},
		{"disk at 10% is fine", Measures{MemAvailable: 500 * mi, DiskAvailable: 10, DiskSize: 100}, Thresholds{}, Pressure{}},
		{"disk threshold configured", ok, Thresholds{DiskAvailablePercent: 60}, Pressure{Disk: true}},
		{"pids", Measures{MemAvailable: 500 * mi, PIDs: 3800, PIDLimit: 4096}, Thresholds{}, Pressure{PID: true}},
		{"pid threshold configured", ok, Thresholds{PIDAvailablePercent: 98}, Pressure{PID: true}},
		{"unknown measures never press", Measures{MemAvailable: -1}, Thresholds{}, Pressure{}},
		{"all", Measures{MemAvailable: 1, DiskAvailable: 1, DiskSize: 100, PIDs: 99, PIDLimit: 100}, Thresholds{}, Pressure{true, true, true}},
	}
	for _, tt := range tests {
		if got := Evaluate(tt.m, tt.th); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestPressureTransitionPeriod(t *testing.T) {
	var tr pressureTracker
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at   time.Duration
		obs  Pressure
		want Pressure
	}{
		{0, Pressure{}, Pressure{}},
		{time.Second, Pressure{Memory: true}, Pressure{Memory: true}},
		{2 * time.Second, Pressure{}, Pressure{Memory: true}},                        // held
		{20 * time.Second, Pressure{Disk: true}, Pressure{Memory: true, Disk: true}}, // still held
		{31 * time.Second, Pressure{}, Pressure{Disk: true}},                         // memory released 30s after last seen
		{51 * time.Second, Pressure{}, Pressure{}},
	}
	for _, s := range steps {
		if got := tr.observe(s.obs, t0.Add(s.at), 30*time.Second); got != s.want {
			t.Errorf("at %s observing %+v: got %+v, want %+v", s.at, s.obs, got, s.want)
		}
	}
}

func TestPressureConditions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	conds := pressureConditions(Pressure{Memory: true}, nil, t0)
	want := map[corev1.NodeConditionType][3]string{
		corev1.NodeMemoryPressure: {"True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"},
		corev1.NodeDiskPressure:   {"False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
		corev1.NodePIDPressure:    {"False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
	}
	for _, c := range conds {
		if w := want[c.Type]; string(c.Status) != w[0] || c.Reason != w[1] || c.Message != w[2] {
			t.Errorf("%s = %s %s %q, want %v", c.Type, c.Status, c.Reason, c.Message, w)
		}
	}
	// Times are kept while the status holds, and move when it changes.
	later := pressureConditions(Pressure{}, conds, t0.Add(time.Minute))
	for _, c := range later {
		moved := !c.LastTransitionTime.Time.Equal(t0)
		if (c.Type == corev1.NodeMemoryPressure) != moved {
			t.Errorf("%s: transition time %s", c.Type, c.LastTransitionTime)
		}
	}
}
