package hpa

import (
	"fmt"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// testPods are n Running pods requesting 100m CPU and 100Mi memory (no
// requests when noRequests), uids p0, p1, ….
func testPods(n int, noRequests bool) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		c := corev1.Container{Name: "app"}
		if !noRequests {
			c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("100Mi")}
		}
		out = append(out, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), UID: types.UID(fmt.Sprintf("p%d", i))},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{c}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning},
		})
	}
	return out
}

// cpuUsage gives each of the first len(milli) pods that CPU usage.
func cpuUsage(milli ...int64) Usage {
	u := Usage{}
	for i, m := range milli {
		u[types.UID(fmt.Sprintf("p%d", i))] = PodUsage{CPUMilli: m, MemoryBytes: 50 << 20}
	}
	return u
}

func cpuTarget(pct int32) *autoscalingv2.ResourceMetricSource {
	return &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(pct)}}
}

func TestResourceReplicas(t *testing.T) {
	memAvg := &autoscalingv2.ResourceMetricSource{Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("25Mi"))}}
	tests := []struct {
		name     string
		current  int32
		metric   *autoscalingv2.ResourceMetricSource
		pods     []*corev1.Pod
		usage    Usage
		want     int32
		wantUtil int32 // -1: not checked
		wantErr  string
	}{
		{"3x target scales 1 to 3", 1, cpuTarget(50), testPods(1, false), cpuUsage(150), 3, 150, ""},
		{"within tolerance keeps", 3, cpuTarget(50), testPods(3, false), cpuUsage(54, 54, 54), 3, 54, ""},
		{"just outside tolerance moves", 3, cpuTarget(50), testPods(3, false), cpuUsage(56, 56, 56), 4, 56, ""},
		{"low usage scales down", 4, cpuTarget(50), testPods(4, false), cpuUsage(10, 10, 10, 10), 1, 10, ""},
		{"sum over sum", 2, cpuTarget(50), testPods(2, false), cpuUsage(200, 0), 4, 100, ""},
		{"missing requests", 1, cpuTarget(50), testPods(1, true), cpuUsage(150), 0, -1, "missing request for cpu in container app of Pod p0"},
		{"no metrics", 1, cpuTarget(50), testPods(1, false), Usage{}, 0, -1, "no metrics returned"},
		{"missing pod dampens scale-up", 2, cpuTarget(50), testPods(2, false), cpuUsage(60), 2, 60, ""},
		{"missing pod dampens scale-down", 2, cpuTarget(50), testPods(2, false), cpuUsage(0), 2, 0, ""},
		{"average value memory", 1, memAvg, testPods(2, false), cpuUsage(1, 1), 4, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st, err := resourceReplicas(tt.current, tt.metric, tt.pods, tt.usage)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if me, ok := err.(*metricError); !ok || me.reason != "FailedGetResourceMetric" {
					t.Errorf("err %v is not a FailedGetResourceMetric", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("replicas = %d, want %d", got, tt.want)
			}
			if tt.wantUtil >= 0 && (st.Resource.Current.AverageUtilization == nil || *st.Resource.Current.AverageUtilization != tt.wantUtil) {
				t.Errorf("utilization = %v, want %d", st.Resource.Current.AverageUtilization, tt.wantUtil)
			}
		})
	}
}

func TestStabilize(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var h []Recommendation
	var got int32
	got, h = stabilize(h, 5, t0, DefaultDownscaleWindow)
	if got != 5 {
		t.Fatalf("first = %d", got)
	}
	got, h = stabilize(h, 1, t0.Add(100*time.Second), DefaultDownscaleWindow)
	if got != 5 {
		t.Errorf("within window = %d, want 5 (the highest recent)", got)
	}
	got, h = stabilize(h, 7, t0.Add(200*time.Second), DefaultDownscaleWindow)
	if got != 7 {
		t.Errorf("scale-up = %d, want 7 (never held back)", got)
	}
	got, h = stabilize(h, 1, t0.Add(501*time.Second), DefaultDownscaleWindow)
	if got != 1 {
		t.Errorf("after window = %d, want 1", got)
	}
	if len(h) != 1 {
		t.Errorf("history kept %d entries, want 1 (expired dropped)", len(h))
	}
}

func TestLimit(t *testing.T) {
	tests := []struct {
		current, desired, min, max int32
		want                       int32
		reason                     string
	}{
		{1, 3, 1, 5, 3, ""},
		{1, 9, 1, 3, 3, "TooManyReplicas"},
		{3, 0, 1, 5, 1, "TooFewReplicas"},
		{1, 9, 1, 20, 4, "ScaleUpLimit"},
		{5, 30, 1, 20, 10, "ScaleUpLimit"},
	}
	for _, tt := range tests {
		got, reason, _ := limit(tt.current, tt.desired, tt.min, tt.max)
		if got != tt.want || reason != tt.reason {
			t.Errorf("limit(%d, %d, [%d,%d]) = %d %q, want %d %q", tt.current, tt.desired, tt.min, tt.max, got, reason, tt.want, tt.reason)
		}
	}
}
