package agent

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAllocatableRefusesPods: a pod that does not fit beside the admitted
// ones is Failed with the kubelet's reason and message and never starts;
// a restarted agent decides the same way.
func TestAllocatableRefusesPods(t *testing.T) {
	h := newHarness(t)
	cpus := h.waitNode(t).Status.Allocatable.Cpu().MilliValue()
	cpuPod := func(name string, milli int64) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr(int64(1)),
			Containers: []corev1.Container{{Name: "c", Args: []string{"serve", ":8080"},
				Resources: resourceReqs("cpu", fmt.Sprintf("%dm", milli))}},
		}}
	}
	h.createPod(t, cpuPod("first", cpus*6/10))
	h.waitPod(t, "first", "Running", running)
	h.createPod(t, cpuPod("second", cpus*6/10))
	p := h.waitPod(t, "second", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	want := fmt.Sprintf("Pod was rejected: Node didn't have enough resource: cpu, requested: %d, used: %d, capacity: %d", cpus*6/10, cpus*6/10, cpus)
	if p.Status.Reason != "OutOfcpu" || p.Status.Message != want {
		t.Errorf("status = %q %q, want OutOfcpu %q", p.Status.Reason, p.Status.Message, want)
	}
	if len(p.Status.ContainerStatuses) != 0 || p.Status.StartTime != nil {
		t.Errorf("a refused pod reports containers or a start: %+v", p.Status)
	}
	ctrs, _ := h.agent.rt.List(context.Background())
	for _, c := range ctrs {
		if c.SandboxID == string(p.UID) {
			t.Errorf("container %s of the refused pod exists", c.ID)
		}
	}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "mem"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Resources: resourceReqs("memory", "1Pi")}},
	}})
	p = h.waitPod(t, "mem", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if p.Status.Reason != "OutOfmemory" || !strings.Contains(p.Status.Message, "memory, requested: 1125899906842624") {
		t.Errorf("status = %q %q", p.Status.Reason, p.Status.Message)
	}

	// A restart admits the running pod first and refuses the others again,
	// writing nothing.
	seq := h.view.Seq()
	h.stop(t)
	h.startAgent(t)
	time.Sleep(1500 * time.Millisecond)
	for _, name := range []string{"first", "second", "mem"} {
		if _, o := h.pod(name); o.Seq > seq {
			t.Errorf("the restarted agent rewrote pod %s", name)
		}
	}
	if p, _ := h.pod("first"); !running(p) {
		t.Errorf("first: %s after restart", p.Status.Phase)
	}
	// Deleting the running pod frees its cpu for the next one.
	h.deletePod(t, "first")
	h.createPod(t, cpuPod("third", cpus*6/10))
	h.waitPod(t, "third", "Running", running)
}
