package agent

import (
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
)

func TestEvaluatePressure(t *testing.T) {
	const mi = 1 << 20
	ok := Measures{MemAvailable: 500 * mi, DiskAvailable: 50, DiskSize: 100, PIDs: 100, PIDLimit: 4096}
	tests := []struct {
		name string
		m    Measures
		th   PressureThresholds
		want Pressure
	}{
		{"none", ok, PressureThresholds{}, Pressure{}},
		{"memory under 100Mi", Measures{MemAvailable: 99 * mi, DiskAvailable: 50, DiskSize: 100, PIDLimit: 10}, PressureThresholds{}, Pressure{Memory: true}},
		{"memory at 100Mi is fine", Measures{MemAvailable: 100 * mi}, PressureThresholds{}, Pressure{}},
		{"memory threshold configured", ok, PressureThresholds{MemoryAvailable: resource.MustParse("1Gi")}, Pressure{Memory: true}},
		{"disk under 10%", Measures{MemAvailable: 500 * mi, DiskAvailable: 9, DiskSize: 100}, PressureThresholds{}, Pressure{Disk: true}},
		{"disk at 10% is fine", Measures{MemAvailable: 500 * mi, DiskAvailable: 10, DiskSize: 100}, PressureThresholds{}, Pressure{}},
		{"disk threshold configured", ok, PressureThresholds{DiskAvailablePercent: 60}, Pressure{Disk: true}},
		{"pids", Measures{MemAvailable: 500 * mi, PIDs: 3800, PIDLimit: 4096}, PressureThresholds{}, Pressure{PID: true}},
		{"pid threshold configured", ok, PressureThresholds{PIDAvailablePercent: 98}, Pressure{PID: true}},
		{"unknown measures never press", Measures{MemAvailable: -1}, PressureThresholds{}, Pressure{}},
		{"all", Measures{MemAvailable: 1, DiskAvailable: 1, DiskSize: 100, PIDs: 99, PIDLimit: 100}, PressureThresholds{}, Pressure{true, true, true}},
	}
	for _, tt := range tests {
		if got := evaluatePressure(tt.m, tt.th); got != tt.want {
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

// TestPressureConditionsInNodeStatus: the node's conditions follow the
// measures, with one status event per change and none per heartbeat.
func TestPressureConditionsInNodeStatus(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	view := projections.New(projections.Options{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); view.Run(t.Context(), log, nil) }()
	t.Cleanup(wg.Wait)
	<-view.Ready()
	var mu sync.Mutex
	m := Measures{MemAvailable: 1 << 30, DiskAvailable: 50, DiskSize: 100, PIDs: 10, PIDLimit: 1000}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := New(Config{
		NodeName: "p1", StateDir: t.TempDir(), Log: log, View: view, Logger: testLogger(),
		Now:      func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Measure:  func(string) Measures { mu.Lock(); defer mu.Unlock(); return m },
		Pressure: PressureThresholds{MemoryAvailable: resource.MustParse("200Mi"), TransitionPeriod: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.machine = Machine{Hostname: "p1", CPUs: 2, Memory: 4 << 30, Storage: 100, InternalIP: "10.0.0.1", Arch: "amd64"}
	if _, err := a.registerNode(t.Context()); err != nil {
		t.Fatal(err)
	}
	ref := events.Ref{Resource: "nodes", Name: "p1"}
	// beat is one heartbeat's status update, returning the node's
	// conditions and how many events it wrote.
	beat := func(after time.Duration, set func(*Measures)) (map[corev1.NodeConditionType]corev1.ConditionStatus, uint64) {
		t.Helper()
		mu.Lock()
		now = now.Add(after)
		if set != nil {
			set(&m)
		}
		mu.Unlock()
		before := view.Seq()
		o, _ := view.Get(ref)
		node, err := decodeNode(o)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.updateNodeStatus(t.Context(), o, node); err != nil {
			t.Fatal(err)
		}
		o, _ = view.Get(ref)
		node, _ = decodeNode(o)
		out := map[corev1.NodeConditionType]corev1.ConditionStatus{}
		for _, c := range node.Status.Conditions {
			out[c.Type] = c.Status
		}
		return out, view.Seq() - before
	}
	check := func(what string, got map[corev1.NodeConditionType]corev1.ConditionStatus, n, wantEvents uint64, mem, disk, pid corev1.ConditionStatus) {
		t.Helper()
		if got[corev1.NodeMemoryPressure] != mem || got[corev1.NodeDiskPressure] != disk || got[corev1.NodePIDPressure] != pid || got[corev1.NodeReady] != corev1.ConditionTrue {
			t.Errorf("%s: conditions %v", what, got)
		}
		if n != wantEvents {
			t.Errorf("%s: %d events, want %d", what, n, wantEvents)
		}
	}
	got, n := beat(time.Second, nil)
	check("steady", got, n, 0, "False", "False", "False")
	got, n = beat(time.Second, func(m *Measures) { m.MemAvailable = 100 << 20 })
	check("memory low", got, n, 1, "True", "False", "False")
	got, n = beat(time.Second, nil)
	check("memory still low", got, n, 0, "True", "False", "False")
	got, n = beat(time.Second, func(m *Measures) { m.MemAvailable = 1 << 30 })
	check("memory back, held", got, n, 0, "True", "False", "False")
	got, n = beat(11*time.Second, func(m *Measures) { m.DiskAvailable, m.PIDs = 5, 950 })
	check("memory released; disk and pids", got, n, 1, "False", "True", "True")
}
