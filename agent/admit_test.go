package agent

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/eviction"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

func resourceReqs(kv ...string) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}}
	for i := 0; i < len(kv); i += 2 {
		r.Requests[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return r
}

func podRequesting(kv ...string) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: resourceReqs(kv...)}}}}
}

func TestAdmit(t *testing.T) {
	alloc := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("10Gi"), corev1.ResourcePods: resource.MustParse("3"),
	}
	initHeavy := podRequesting("cpu", "100m")
	initHeavy.Spec.InitContainers = []corev1.Container{{Name: "i1", Resources: resourceReqs("cpu", "1500m")}, {Name: "i2", Resources: resourceReqs("cpu", "200m")}}
	sidecar := podRequesting("cpu", "500m")
	always := corev1.ContainerRestartPolicyAlways
	sidecar.Spec.InitContainers = []corev1.Container{{Name: "s", RestartPolicy: &always, Resources: resourceReqs("cpu", "1")}}
	tests := []struct {
		name     string
		admitted []*corev1.Pod
		pod      *corev1.Pod
		reason   string
		message  string
	}{
		{"no requests", nil, podRequesting(), "", ""},
		{"fits exactly", []*corev1.Pod{podRequesting("cpu", "1")}, podRequesting("cpu", "1", "memory", "1Gi"), "", ""},
		{"cpu", []*corev1.Pod{podRequesting("cpu", "1500m")}, podRequesting("cpu", "600m"), "OutOfcpu",
			"Pod was rejected: Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000"},
		{"memory", []*corev1.Pod{podRequesting("memory", "512Mi")}, podRequesting("memory", "768Mi"), "OutOfmemory",
			"Pod was rejected: Node didn't have enough resource: memory, requested: 805306368, used: 536870912, capacity: 1073741824"},
		{"ephemeral-storage", nil, podRequesting("ephemeral-storage", "11Gi"), "OutOfephemeral-storage",
			"Pod was rejected: Node didn't have enough resource: ephemeral-storage, requested: 11811160064, used: 0, capacity: 10737418240"},
		{"pods", []*corev1.Pod{podRequesting(), podRequesting(), podRequesting()}, podRequesting(), "OutOfpods",
			"Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3"},
		{"pods before cpu", []*corev1.Pod{podRequesting("cpu", "2"), podRequesting(), podRequesting()}, podRequesting("cpu", "1"), "OutOfpods", ""},
		{"init containers count as the max", []*corev1.Pod{podRequesting("cpu", "600m")}, initHeavy, "OutOfcpu",
			"Pod was rejected: Node didn't have enough resource: cpu, requested: 1500, used: 600, capacity: 2000"},
		{"init max fits", []*corev1.Pod{podRequesting("cpu", "500m")}, initHeavy, "", ""},
		{"sidecars add up", []*corev1.Pod{podRequesting("cpu", "600m")}, sidecar, "OutOfcpu", ""},
		{"unknown extended resource", nil, podRequesting("example.com/gpu", "1"), "OutOfexample.com/gpu",
			"Pod was rejected: Node didn't have enough resource: example.com/gpu, requested: 1, used: 0, capacity: 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rej := admit(alloc, tt.admitted, tt.pod)
			switch {
			case tt.reason == "" && rej != nil:
				t.Fatalf("rejected: %+v", rej)
			case tt.reason == "":
			case rej == nil:
				t.Fatalf("admitted, want %s", tt.reason)
			case rej.Reason != tt.reason || tt.message != "" && rej.Message != tt.message:
				t.Fatalf("got %+v, want %s %q", rej, tt.reason, tt.message)
			}
		})
	}
}

func TestAdmissionOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	obj := func(name string, created time.Duration, started bool, phase corev1.PodPhase) *projections.Object {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(t0.Add(created))}}
		p.Status.Phase = phase
		if started {
			st := metav1.NewTime(t0)
			p.Status.StartTime = &st
		}
		return &projections.Object{Ref: events.Ref{Resource: "pods", Namespace: "default", Name: name}, Raw: mustJSON(t, p)}
	}
	objs := []*projections.Object{
		obj("new-b", 2*time.Second, false, corev1.PodPending),
		obj("done", 0, true, corev1.PodSucceeded),
		obj("new-a", 2*time.Second, false, corev1.PodPending),
		obj("running-late", 5*time.Second, true, corev1.PodRunning),
		obj("new-early", time.Second, false, corev1.PodPending),
	}
	var got []string
	for _, o := range admissionOrder(objs) {
		got = append(got, o.Ref.Name)
	}
	want := []string{"running-late", "done", "new-early", "new-a", "new-b"}
	if len(got) != len(want) {
		t.Fatalf("order = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order = %v, want %v", got, want)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAdmitUnderPressure(t *testing.T) {
	best := podRequesting()
	burstable := podRequesting("memory", "10Mi")
	tolerant := podRequesting()
	tolerant.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	critical := podRequesting()
	critical.Spec.Priority = ptr(int32(2000001000))
	tests := []struct {
		name    string
		p       eviction.Pressure
		pod     *corev1.Pod
		message string // "" = admitted
	}{
		{"no pressure", eviction.Pressure{}, best, ""},
		{"memory: best effort refused", eviction.Pressure{Memory: true}, best, "Pod was rejected: The node had condition: [MemoryPressure]. "},
		{"memory: burstable admitted", eviction.Pressure{Memory: true}, burstable, ""},
		{"memory: toleration admitted", eviction.Pressure{Memory: true}, tolerant, ""},
		{"disk: everyone refused", eviction.Pressure{Disk: true}, burstable, "Pod was rejected: The node had condition: [DiskPressure]. "},
		{"memory and pid", eviction.Pressure{Memory: true, PID: true}, burstable, "Pod was rejected: The node had condition: [MemoryPressure PIDPressure]. "},
		{"critical pods always", eviction.Pressure{Memory: true, Disk: true, PID: true}, critical, ""},
	}
	for _, tt := range tests {
		rej := admitUnderPressure(tt.p, tt.pod)
		switch {
		case tt.message == "" && rej != nil:
			t.Errorf("%s: rejected %+v", tt.name, rej)
		case tt.message != "" && (rej == nil || rej.Reason != "Evicted" || rej.Message != tt.message):
			t.Errorf("%s: got %+v, want Evicted %q", tt.name, rej, tt.message)
		}
	}
}
