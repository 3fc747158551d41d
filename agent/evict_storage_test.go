package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/logs"
	ti "github.com/wakehq/wake/internal/testimage"
)

const mib = int64(1 << 20)

// storagePod is a pod of containers named by limits' keys, each limited
// (and asking) as given ("" for neither).
func storagePod(name string, priority int32, limits, requests map[string]string, vols ...corev1.Volume) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{Priority: &priority, Volumes: vols}}
	for _, c := range []string{"a", "b"} {
		l, ok := limits[c]
		r, ok2 := requests[c]
		if !ok && !ok2 {
			continue
		}
		ctr := corev1.Container{Name: c}
		if l != "" {
			ctr.Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(l)}
		}
		if r != "" {
			ctr.Resources.Requests = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(r)}
		}
		p.Spec.Containers = append(p.Spec.Containers, ctr)
	}
	return p
}

func emptyDir(name, size string, medium corev1.StorageMedium) corev1.Volume {
	v := corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: medium}}}
	if size != "" {
		q := resource.MustParse(size)
		v.EmptyDir.SizeLimit = &q
	}
	return v
}

func TestStorageLimitExceeded(t *testing.T) {
	for _, tt := range []struct {
		name string
		pod  *corev1.Pod
		use  podStorage
		want string
	}{
		{"under every limit", storagePod("p", 0, map[string]string{"a": "10Mi", "b": "10Mi"}, nil, emptyDir("cache", "10Mi", "")),
			podStorage{containers: map[string]int64{"a": 2 * mib, "b": mib}, emptyDirs: map[string]int64{"cache": 5 * mib}}, ""},
		{"a container over its limit", storagePod("p", 0, map[string]string{"a": "1Mi", "b": "100Mi"}, nil),
			podStorage{containers: map[string]int64{"a": 4 * mib, "b": 0}},
			`Container a exceeded its local ephemeral storage limit "1Mi". `},
		{"the pod over the sum of its containers' limits", storagePod("p", 0, map[string]string{"a": "1Mi", "b": "1Mi"}, nil, emptyDir("cache", "", "")),
			podStorage{containers: map[string]int64{"a": mib / 2, "b": mib / 2}, emptyDirs: map[string]int64{"cache": 2 * mib}},
			"Pod ephemeral local storage usage exceeds the total limit of containers 2Mi. "},
		{"as the kubelet's, one container's limit makes the pod's", storagePod("p", 0, map[string]string{"a": "1Mi", "b": ""}, nil),
			podStorage{containers: map[string]int64{"a": mib / 2, "b": 3 * mib}},
			"Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. "},
		{"an emptyDir over its sizeLimit, checked first", storagePod("p", 0, map[string]string{"a": "1Mi"}, nil, emptyDir("cache", "1Mi", "")),
			podStorage{containers: map[string]int64{"a": 4 * mib}, emptyDirs: map[string]int64{"cache": 4 * mib}},
			`Usage of EmptyDir volume "cache" exceeds the limit "1Mi". `},
		{"no limits at all", storagePod("p", 0, map[string]string{"a": ""}, nil, emptyDir("cache", "", "")),
			podStorage{containers: map[string]int64{"a": 100 * mib}, emptyDirs: map[string]int64{"cache": 100 * mib}}, ""},
		{"exactly at the limit is within it", storagePod("p", 0, map[string]string{"a": "1Mi", "b": "1Mi"}, nil),
			podStorage{containers: map[string]int64{"a": mib, "b": 0}}, ""},
	} {
		if got := storageLimitExceeded(tt.pod, tt.use); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestRankStorage(t *testing.T) {
	use := func(n int64) podStorage { return podStorage{containers: map[string]int64{"a": n}} }
	cand := func(p *corev1.Pod, n int64) storageCandidate {
		return storageCandidate{evictedPod: evictedPod{pod: p}, usage: use(n)}
	}
	for _, tt := range []struct {
		name  string
		cands []storageCandidate
		want  string
	}{
		{"over its request first, whatever the usage", []storageCandidate{
			cand(storagePod("within", 0, nil, map[string]string{"a": "100Mi"}), 90*mib),
			cand(storagePod("over", 0, nil, map[string]string{"a": "1Mi"}), 2*mib),
		}, "over"},
		{"then lower priority", []storageCandidate{
			cand(storagePod("high", 1000, map[string]string{"a": ""}, nil), 50*mib),
			cand(storagePod("low", 0, map[string]string{"a": ""}, nil), 1*mib),
		}, "low"},
		{"then most above its request", []storageCandidate{
			cand(storagePod("little", 0, map[string]string{"a": ""}, nil), 1*mib),
			cand(storagePod("much", 0, map[string]string{"a": ""}, nil), 9*mib),
			cand(storagePod("asks-much", 0, nil, map[string]string{"a": "8Mi"}), 10*mib),
		}, "much"},
		{"no QoS class: a Guaranteed pod over its request before a BestEffort one within", []storageCandidate{
			cand(storagePod("besteffort", 0, map[string]string{"a": ""}, nil), 0),
			cand(storagePod("guaranteed", 0, map[string]string{"a": "1Mi"}, map[string]string{"a": "1Mi"}), 2*mib),
		}, "guaranteed"},
	} {
		rankStorage(tt.cands)
		if got := tt.cands[0].pod.Name; got != tt.want {
			t.Errorf("%s: %q first, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDiskPressureMessage(t *testing.T) {
	pod := storagePod("p", 0, nil, map[string]string{"a": "1Mi", "b": "10Mi"})
	got := diskPressureMessage(Measures{DiskSize: 100 << 30, DiskAvailable: 5 << 30}, PressureThresholds{}.withDefaults(), pod,
		podStorage{containers: map[string]int64{"a": 4 * mib, "b": mib}})
	// 10% of 100Gi as the kubelet computes it (a float32 fraction):
	// 10737418400 bytes, not 10Gi.
	want := "The node was low on resource: ephemeral-storage. Threshold quantity: 10737418400, available: 5Gi. " +
		"Container a was using 4Mi, request is 1Mi, has larger consumption of ephemeral-storage. "
	if got != want {
		t.Errorf("message\n %q\nwant\n %q", got, want)
	}
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
		p := h.waitPod(t, name, "Failed, Evicted", func(*corev1.Pod) bool { return h.evicted(name) })
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
		c.Measure = func(dir string) Measures {
			m := Measure(dir)
			if short.Load() {
				m.DiskAvailable = m.DiskSize / 20 // under the 10% threshold
			}
			return m
		}
	})
	req := corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("10Mi")}}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "critical"}, Spec: corev1.PodSpec{Priority: ptr(int32(systemCriticalPriority)),
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
	h.waitPod(t, "light", "Failed, Evicted", func(p *corev1.Pod) bool { return h.evicted("light") })
	time.Sleep(time.Second) // ten more periods under pressure
	if p, _ := h.pod("critical"); p == nil || p.Status.Phase != corev1.PodRunning {
		t.Errorf("the critical pod: %+v", p)
	}
	short.Store(false)
}
