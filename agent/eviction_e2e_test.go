package agent

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/eviction"
	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	ti "github.com/wakehq/wake/internal/testimage"
	"github.com/wakehq/wake/projections"
)

// End-to-end tests of the eviction manager wired into the agent (the
// pure parts are tested in agent/eviction): real containers, root.

// Under memory pressure the node evicts, as the kubelet ranks them, the
// low-priority Burstable pod over its request first, then the BestEffort
// one (higher priority, over its request of nothing), and keeps the
// Guaranteed pod within its request; Failed, Evicted, the kubelet's
// message, containers stopped.
func TestMemoryPressureEvicts(t *testing.T) {
	var short atomic.Bool
	var h *harness
	// Memory is short until both pods over their requests are gone, as
	// if their usage were what ran the node short.
	h = newHarnessWith(t, func(c *Config) {
		c.PodCIDR = "10.254.0.0/24"
		c.EvictionPeriod = 100 * time.Millisecond
		c.Measure = func(dir string) eviction.Measures {
			m := eviction.Measure(dir)
			if short.Load() && !(h.evicted("burstable") && h.evicted("besteffort")) {
				m.MemAvailable = 10 << 20 // under the 100Mi threshold
			}
			return m
		}
	})
	g := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("100m")}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "guaranteed"}, Spec: corev1.PodSpec{Priority: ptr(int32(0)),
		Containers: []corev1.Container{{Name: "c", Args: []string{"sleep"}, Resources: corev1.ResourceRequirements{Requests: g, Limits: g}}}}})
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "besteffort"}, Spec: corev1.PodSpec{Priority: ptr(int32(1000)),
		Containers: []corev1.Container{{Name: "c", Args: []string{"sleep"}}}}})
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "burstable"}, Spec: corev1.PodSpec{Priority: ptr(int32(0)),
		Containers: []corev1.Container{{Name: "c", Args: []string{"sleep"}, Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Ki")}}}}}})
	for _, name := range []string{"guaranteed", "besteffort", "burstable"} {
		h.waitPod(t, name, "Running", running)
	}
	short.Store(true)
	h.wait(t, 30*time.Second, "a pod evicted", func() bool { return h.evicted("burstable") || h.evicted("besteffort") || h.evicted("guaranteed") })
	if !h.evicted("burstable") || h.evicted("besteffort") {
		t.Fatalf("burstable evicted %v, besteffort %v: want the low-priority Burstable pod first", h.evicted("burstable"), h.evicted("besteffort"))
	}
	p, _ := h.pod("burstable")
	want := regexp.MustCompile(`^The node was low on resource: memory\. Threshold quantity: 100Mi, available: 10Mi\. ` +
		`Container c was using \d+(Ki|Mi)?, request is 1Ki, has larger consumption of memory\. $`)
	if !want.MatchString(p.Status.Message) {
		t.Errorf("message %q, want %s", p.Status.Message, want)
	}
	h.waitEvent(t, "burstable", "Evicted", "request is 1Ki, has larger consumption of memory")
	ctrs, _ := h.agent.rt.List(t.Context())
	for _, c := range ctrs {
		if c.SandboxID == string(p.UID) {
			t.Errorf("the evicted pod's container %s is still there", c.ID)
		}
	}
	h.waitPod(t, "besteffort", "Failed, Evicted", isEvicted)
	time.Sleep(500 * time.Millisecond) // a few more periods: nothing else goes
	if g, _ := h.pod("guaranteed"); g == nil || g.Status.Phase != corev1.PodRunning {
		t.Errorf("the Guaranteed pod: %+v", g)
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
		c.Measure = func(dir string) eviction.Measures {
			m := eviction.Measure(dir)
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
	spawn("critical", eviction.SystemCriticalPriority, 6)
	spawn("high", 1000, 4)
	spawn("many", 0, 3)
	spawn("few", 0, 1)
	for _, name := range []string{"critical", "high", "many", "few"} {
		h.waitPod(t, name, "Running", running)
		h.wait(t, 20*time.Second, name+" spawned", func() bool { return strings.Contains(podLogOf(h, name, "c"), "spawned") })
	}
	for name, least := range map[string]int64{"critical": 7, "high": 5, "many": 4, "few": 2} {
		p, _ := h.pod(name)
		if n, ok := eviction.PodProcesses(string(p.UID)); !ok || n < least {
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
	h.waitPod(t, "high", "Failed, Evicted", isEvicted)
	time.Sleep(time.Second) // ten more periods under pressure
	if p, _ := h.pod("critical"); p == nil || p.Status.Phase != corev1.PodRunning {
		t.Errorf("the critical pod: %+v", p)
	}
	short.Store(false)
}

func fillCmd(path string, n int64) []string { return []string{"fill", path, strconv.FormatInt(n, 10)} }

// Pods over a local storage limit are evicted without any node pressure,
// with the kubelet's messages; a pod within its limits stays.
func TestStorageLimitsEvict(t *testing.T) {
	h := newHarnessWith(t, func(c *Config) {
		c.PodCIDR = "10.254.0.0/24"
		c.EvictionPeriod = 100 * time.Millisecond
	})
	limit := func(q string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(q)}}
	}
	sleeper := corev1.Container{Name: "other", Args: []string{"sleep"}, Resources: limit("100Mi")}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ctr-limit"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "writer", Args: fillCmd("/data", 4*mib), Resources: limit("1Mi")}, sleeper}}})
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod-limit"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "writer", Args: fillCmd("/data", 4*mib), Resources: limit("2Mi")}}}})
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "emptydir-limit"}, Spec: corev1.PodSpec{
		Volumes: []corev1.Volume{emptyDir("cache", "1Mi", "")},
		Containers: []corev1.Container{{Name: "writer", Args: fillCmd("/cache/data", 4*mib),
			VolumeMounts: []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}}}}}})
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "within"}, Spec: corev1.PodSpec{
		Volumes: []corev1.Volume{emptyDir("cache", "100Mi", "")},
		Containers: []corev1.Container{
			{Name: "writer", Args: fillCmd("/data", 1*mib), Resources: limit("100Mi")},
			{Name: "cache", Args: fillCmd("/cache/data", 1*mib), Resources: limit("100Mi"),
				VolumeMounts: []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}}}}}})

	for name, msg := range map[string]string{
		"ctr-limit":      `Container writer exceeded its local ephemeral storage limit "1Mi". `,
		"pod-limit":      "Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. ",
		"emptydir-limit": `Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `,
	} {
		p := h.waitPod(t, name, "Failed, Evicted", isEvicted)
		if p.Status.Message != msg {
			t.Errorf("%s: message %q, want %q", name, p.Status.Message, msg)
		}
		if ev := h.waitEvent(t, name, "Evicted", msg); ev.Type != corev1.EventTypeWarning {
			t.Errorf("%s: event %+v, want a Warning", name, ev)
		}
		ctrs, _ := h.agent.rt.List(t.Context())
		for _, c := range ctrs {
			if c.SandboxID == string(p.UID) {
				t.Errorf("%s: container %s still there", name, c.ID)
			}
		}
		if name == "emptydir-limit" { // its space is the node's again before the pod is deleted
			h.wait(t, 10*time.Second, "the evicted pod's emptyDir removed", func() bool {
				_, err := os.Stat(filepath.Join(h.state, "pods", string(p.UID), "volumes", "cache"))
				return os.IsNotExist(err)
			})
		}
	}
	h.waitPod(t, "within", "Running", running)
	// Its 2 MiB are written: a few more periods, and it is still there.
	h.wait(t, 20*time.Second, "within's files written", func() bool {
		return strings.Contains(podLogOf(h, "within", "writer"), "filled") && strings.Contains(podLogOf(h, "within", "cache"), "filled")
	})
	time.Sleep(time.Second)
	if p, _ := h.pod("within"); p == nil || p.Status.Phase != corev1.PodRunning {
		t.Errorf("the pod within its limits: %+v", p)
	}
}

// podLogOf is the current log of a container of pod name ("" if none).
func podLogOf(h *harness, name, ctr string) string {
	p, _ := h.pod(name)
	if p == nil {
		return ""
	}
	b, _ := os.ReadFile(logs.Path(filepath.Join(h.state, "pods"), string(p.UID), ctr, 1))
	return string(b)
}

// Under disk pressure (a made-up statfs) the node removes an unused image,
// then evicts the BestEffort pod that wrote the most first, then the next
// one, and never the critical pod that wrote as much.
func TestDiskPressureEvicts(t *testing.T) {
	var short atomic.Bool
	h := newHarnessWith(t, func(c *Config) {
		c.PodCIDR = "10.254.0.0/24"
		c.EvictionPeriod = 100 * time.Millisecond
		c.ImageGC.MinAge = time.Nanosecond
		c.Measure = func(dir string) eviction.Measures {
			m := eviction.Measure(dir)
			if short.Load() {
				m.DiskAvailable = m.DiskSize / 20 // under the 10% threshold
			}
			return m
		}
	})
	req := corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("10Mi")}}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "critical"}, Spec: corev1.PodSpec{Priority: ptr(int32(eviction.SystemCriticalPriority)),
		Containers: []corev1.Container{{Name: "c", Args: fillCmd("/data", 4*mib)}}}})
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "heavy"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Args: fillCmd("/data", 4*mib)}}}})
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "light"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Args: fillCmd("/data", mib), Resources: req}}}})
	for _, name := range []string{"critical", "heavy", "light"} {
		h.waitPod(t, name, "Running", running)
		h.wait(t, 20*time.Second, name+" filled", func() bool { return strings.Contains(podLogOf(h, name, "c"), "filled") })
	}
	// An image no pod uses goes before any pod.
	host, _, _ := strings.Cut(h.image, "/")
	img, err := mutate.AppendLayers(empty.Image, ti.Layer(t, ti.File{Name: "unused", Body: []byte("unused")}))
	if err != nil {
		t.Fatal(err)
	}
	unused, err := h.agent.images.Pull(t.Context(), ti.Push(t, host, "app/unused:v1", img), nil, []string{host})
	if err != nil {
		t.Fatal(err)
	}
	short.Store(true)
	h.wait(t, 10*time.Second, "the unused image removed", func() bool {
		_, err := h.agent.images.Get(unused.ID)
		return err != nil
	})
	h.wait(t, 30*time.Second, "a pod evicted", func() bool { return h.evicted("heavy") || h.evicted("light") || h.evicted("critical") })
	if !h.evicted("heavy") || h.evicted("light") {
		t.Fatalf("heavy evicted %v, light %v: want the BestEffort heavy writer first", h.evicted("heavy"), h.evicted("light"))
	}
	p, _ := h.pod("heavy")
	if want := "The node was low on resource: ephemeral-storage. "; !strings.HasPrefix(p.Status.Message, want) ||
		!strings.Contains(p.Status.Message, "Container c was using ") || !strings.Contains(p.Status.Message, "request is 0, has larger consumption of ephemeral-storage. ") {
		t.Errorf("message %q", p.Status.Message)
	}
	h.waitEvent(t, "heavy", "Evicted", "ephemeral-storage")
	h.waitPod(t, "light", "Failed, Evicted", isEvicted)
	time.Sleep(time.Second) // ten more periods under pressure
	if p, _ := h.pod("critical"); p == nil || p.Status.Phase != corev1.PodRunning {
		t.Errorf("the critical pod: %+v", p)
	}
	short.Store(false)
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
	m := eviction.Measures{MemAvailable: 1 << 30, DiskAvailable: 50, DiskSize: 100, PIDs: 10, PIDLimit: 1000}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := New(Config{
		NodeName: "p1", StateDir: t.TempDir(), Log: log, View: view, Logger: testLogger(),
		Now:      func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		Measure:  func(string) eviction.Measures { mu.Lock(); defer mu.Unlock(); return m },
		Pressure: eviction.Thresholds{MemoryAvailable: resource.MustParse("200Mi"), TransitionPeriod: 10 * time.Second},
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
	beat := func(after time.Duration, set func(*eviction.Measures)) (map[corev1.NodeConditionType]corev1.ConditionStatus, uint64) {
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
	got, n = beat(time.Second, func(m *eviction.Measures) { m.MemAvailable = 100 << 20 })
	check("memory low", got, n, 1, "True", "False", "False")
	got, n = beat(time.Second, nil)
	check("memory still low", got, n, 0, "True", "False", "False")
	got, n = beat(time.Second, func(m *eviction.Measures) { m.MemAvailable = 1 << 30 })
	check("memory back, held", got, n, 0, "True", "False", "False")
	got, n = beat(11*time.Second, func(m *eviction.Measures) { m.DiskAvailable, m.PIDs = 5, 950 })
	check("memory released; disk and pids", got, n, 1, "False", "True", "True")
}

const mib = int64(1 << 20)

func emptyDir(name, size string, medium corev1.StorageMedium) corev1.Volume {
	v := corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: medium}}}
	if size != "" {
		q := resource.MustParse(size)
		v.EmptyDir.SizeLimit = &q
	}
	return v
}
