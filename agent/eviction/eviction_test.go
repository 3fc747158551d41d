package eviction

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// evictPod is a pod of one container "c" asking req and limited to limit
// of memory ("" for none), at priority.
func evictPod(name string, req, limit string, priority int32) *corev1.Pod {
	c := corev1.Container{Name: "c"}
	if req != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(req), corev1.ResourceCPU: resource.MustParse("100m")}
	}
	if limit != "" {
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit), corev1.ResourceCPU: resource.MustParse("100m")}
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{Containers: []corev1.Container{c}, Priority: &priority}}
}

func TestRankMemory(t *testing.T) {
	mi := int64(1 << 20)
	using := func(p *corev1.Pod, n int64) memoryCandidate {
		return memoryCandidate{evictedPod: evictedPod{Pod: p}, memory: memoryStats{known: true, pod: n}}
	}
	for _, tt := range []struct {
		name  string
		cands []memoryCandidate
		want  []string
	}{
		{"over its request first, whatever the priority", []memoryCandidate{
			using(evictPod("within", "100Mi", "", 0), 50*mi),
			using(evictPod("over", "10Mi", "", 1000), 20*mi),
		}, []string{"over", "within"}},
		{"no QoS class: a low-priority Burstable pod before a BestEffort one", []memoryCandidate{
			using(evictPod("besteffort", "", "", 1000), 5*mi),
			using(evictPod("burstable", "1Mi", "", 0), 2*mi),
			using(evictPod("guaranteed", "64Mi", "64Mi", 0), 60*mi),
		}, []string{"burstable", "besteffort", "guaranteed"}},
		{"then lower priority", []memoryCandidate{
			using(evictPod("high", "", "", 1000), 50*mi),
			using(evictPod("low", "", "", 0), 10*mi),
		}, []string{"low", "high"}},
		{"then most above its request", []memoryCandidate{
			using(evictPod("little", "", "", 0), 10*mi),
			using(evictPod("asks-much", "80Mi", "", 0), 85*mi),
			using(evictPod("much", "", "", 0), 90*mi),
		}, []string{"much", "little", "asks-much"}},
		{"a pod without stats first", []memoryCandidate{
			using(evictPod("measured", "", "", 0), 90*mi),
			{evictedPod: evictedPod{Pod: evictPod("unknown", "", "", 1000)}},
		}, []string{"unknown", "measured"}},
	} {
		rankMemory(tt.cands)
		var got []string
		for _, c := range tt.cands {
			got = append(got, c.Pod.Name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMemoryEvictionMessage(t *testing.T) {
	mi := int64(1 << 20)
	threshold, avail := resource.MustParse("100Mi"), resource.NewQuantity(231212*1024, resource.BinarySI)
	twoCtrs := evictPod("p", "64Mi", "", 0)
	twoCtrs.Spec.Containers = append(twoCtrs.Spec.Containers, corev1.Container{Name: "side"})
	twoCtrs.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Mi")}}}}
	podLevel := evictPod("pl", "", "", 0)
	podLevel.Spec.Resources = &corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}}
	used := int64(40 * mi)
	for _, tt := range []struct {
		name     string
		pod      *corev1.Pod
		podUsage *int64
		ctrs     map[string]int64
		want     string
	}{
		{"containers over their requests, init containers too", twoCtrs, &used,
			map[string]int64{"c": 70 * mi, "side": 4097 * 1024, "init": 3 * mi},
			"The node was low on resource: memory. Threshold quantity: 100Mi, available: 231212Ki. " +
				"Container c was using 70Mi, request is 64Mi, has larger consumption of memory. " +
				"Container side was using 4097Ki, request is 0, has larger consumption of memory. " +
				"Container init was using 3Mi, request is 1Mi, has larger consumption of memory. "},
		{"within its request: no container part", twoCtrs, &used, map[string]int64{"c": 10 * mi},
			"The node was low on resource: memory. Threshold quantity: 100Mi, available: 231212Ki. "},
		{"no stats: no container part", twoCtrs, nil, nil,
			"The node was low on resource: memory. Threshold quantity: 100Mi, available: 231212Ki. "},
		{"a pod-level request: the pod's usage, always", podLevel, &used, map[string]int64{"c": 1000},
			"The node was low on resource: memory. Threshold quantity: 100Mi, available: 231212Ki. " +
				"Pod pl was using 40Mi, request is 32Mi, has larger consumption of memory. " +
				"Container c was using 1k, request is 0, has larger consumption of memory. "}, // under 1Ki, binary SI prints decimal
	} {
		if got := evictionMessage(corev1.ResourceMemory, &threshold, avail, tt.pod, tt.podUsage, tt.ctrs); got != tt.want {
			t.Errorf("%s:\n %q\nwant\n %q", tt.name, got, tt.want)
		}
	}
}
