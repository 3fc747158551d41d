package agent

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A container that outgrows its memory limit is killed by the kernel and
// reported as OOMKilled (exit code 137), the kubelet's wording.
func TestMemoryLimitOOMKilled(t *testing.T) {
	h := newHarness(t)
	limit := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hog"}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{Name: "c", Args: []string{"alloc", "256"},
			Resources: corev1.ResourceRequirements{Limits: limit, Requests: limit}}},
	}})
	p := h.waitPod(t, "hog", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if len(p.Status.ContainerStatuses) != 1 {
		t.Fatalf("container statuses: %+v", p.Status.ContainerStatuses)
	}
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Fatalf("terminated = %+v, want OOMKilled with exit code 137", term)
	}
}
