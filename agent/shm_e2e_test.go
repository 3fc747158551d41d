package agent

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/logs"
)

// A pod's containers share one /dev/shm (an init container's file is
// there for the app container), which goes with the pod.
func TestPodSharesDevShm(t *testing.T) {
	h := newHarness(t)
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shm"}, Spec: corev1.PodSpec{
		RestartPolicy:  corev1.RestartPolicyNever,
		InitContainers: []corev1.Container{{Name: "writer", Args: []string{"write", "/dev/shm/note", "left by the init container"}}},
		Containers:     []corev1.Container{{Name: "c", Command: []string{"/bin/tool", "cat"}, Args: []string{"/dev/shm/note"}}},
	}})
	p := h.waitPod(t, "shm", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	b, err := readLog(h, p, "c")
	if err != nil {
		t.Fatal(err)
	}
	if out := string(logs.Content(b)); !strings.Contains(out, "left by the init container") {
		t.Errorf("the app container's /dev/shm:\n%s", out)
	}
}
