package eviction

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
		return storageCandidate{evictedPod: evictedPod{Pod: p}, usage: use(n)}
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
		if got := tt.cands[0].Pod.Name; got != tt.want {
			t.Errorf("%s: %q first, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDiskPressureMessage(t *testing.T) {
	pod := storagePod("p", 0, nil, map[string]string{"a": "1Mi", "b": "10Mi"})
	got := diskPressureMessage(Measures{DiskSize: 100 << 30, DiskAvailable: 5 << 30}, Thresholds{}.WithDefaults(), pod,
		podStorage{containers: map[string]int64{"a": 4 * mib, "b": mib}})
	// 10% of 100Gi as the kubelet computes it (a float32 fraction):
	// 10737418400 bytes, not 10Gi.
	want := "The node was low on resource: ephemeral-storage. Threshold quantity: 10737418400, available: 5Gi. " +
		"Container a was using 4Mi, request is 1Mi, has larger consumption of ephemeral-storage. "
	if got != want {
		t.Errorf("message\n %q\nwant\n %q", got, want)
	}
}
