package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/services/reconcile"
)

// downwardAPI and projected volumes: pod fields, labels as key="value"
// lines, a container's limit, and a configMap and a secret in one
// directory; a service account token source is refused with a reason.
func TestDownwardAndProjectedVolumes(t *testing.T) {
	h := newHarness(t)
	h.appendAs(t, must(reconcile.Create(reconcile.MustKind("", "configmaps"), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "pcm", Namespace: "default"},
		Data: map[string]string{"mode": "fast"}}, time.Now(), "pcm")))
	h.appendAs(t, must(reconcile.Create(reconcile.MustKind("", "secrets"), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "psec", Namespace: "default"},
		Data: map[string][]byte{"key": []byte("k3y")}}, time.Now(), "psec")))
	limits := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "downward", Labels: map[string]string{"app": "web", "tier": "front"}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Volumes: []corev1.Volume{
				{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
					{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
					{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
					{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
				}}}},
				{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "pcm"}}},
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "psec"}, Items: []corev1.KeyToPath{{Key: "key", Path: "sub/key"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
				}}}},
			},
			Containers: []corev1.Container{{Name: "c", Command: []string{"/bin/tool", "cat"},
				Args:         []string{"/info/name", "/info/labels", "/info/mem", "/all/mode", "/all/sub/key", "/all/ns"},
				Resources:    corev1.ResourceRequirements{Limits: limits, Requests: limits},
				VolumeMounts: []corev1.VolumeMount{{Name: "info", MountPath: "/info"}, {Name: "all", MountPath: "/all"}}}},
		}})
	p := h.waitPod(t, "downward", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	b, err := readLog(h, p, "c")
	if err != nil {
		t.Fatal(err)
	}
	out := string(logs.Content(b))
	for _, want := range []string{"== /info/name 644\ndownward", "app=\"web\"\ntier=\"front\"", "== /info/mem 644\n64", "== /all/mode 644\nfast", "== /all/sub/key 644\nk3y", "== /all/ns 644\ndefault"} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}

	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "token"}, Spec: corev1.PodSpec{
		Volumes: []corev1.Volume{{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}},
		Containers: []corev1.Container{{Name: "c", Args: []string{"sleep", "60"}, VolumeMounts: []corev1.VolumeMount{{Name: "tok", MountPath: "/tok"}}}},
	}})
	h.waitPod(t, "token", "ContainerCreating with the reason", func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		return strings.Contains(p.Status.ContainerStatuses[0].State.Waiting.Message, "service account tokens")
	})
}

// readLog is a container's first log file.
func readLog(h *harness, p *corev1.Pod, ctr string) ([]byte, error) {
	return os.ReadFile(filepath.Join(h.state, "pods", string(p.UID), "logs", ctr, "1.log"))
}
