package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/runtime"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// A running pod's configMap and secret volumes follow their objects: an
// update is visible inside the container (all keys at once, through the
// ..data swap), a removed key goes away, and a subPath mount keeps the
// file it bound, as in Kubernetes.
func TestConfigMapVolumeFollowsUpdates(t *testing.T) {
	h := newHarness(t)
	cmKind, secKind := reconcile.MustKind("", "configmaps"), reconcile.MustKind("", "secrets")
	h.appendAs(t, must(reconcile.Create(cmKind, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "live", Namespace: "default"},
		Data: map[string]string{"a": "one", "b": "one", "gone": "soon"}}, time.Now(), "live")))
	h.appendAs(t, must(reconcile.Create(secKind, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tok", Namespace: "default"},
		Data: map[string][]byte{"token": []byte("v1")}}, time.Now(), "tok")))
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "reader"}, Spec: corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "live"}}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tok"}}},
		},
		Containers: []corev1.Container{{Name: "c", Args: []string{"sleep", "3600"}, VolumeMounts: []corev1.VolumeMount{
			{Name: "cfg", MountPath: "/cfg"}, {Name: "sec", MountPath: "/sec"}, {Name: "cfg", MountPath: "/pinned-a", SubPath: "a"},
		}}},
	}})
	p := h.waitPod(t, "reader", "Running", running)
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "wake://")
	read := func() string {
		ex := h.agent.rt.(runtime.Execer)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, out, err := ex.Exec(ctx, id, []string{"/bin/tool", "cat", "/cfg/a", "/cfg/b", "/cfg/gone", "/sec/token", "/pinned-a"})
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if out := read(); !strings.Contains(out, "== /cfg/a 644\none") || !strings.Contains(out, "== /sec/token 644\nv1") {
		t.Fatalf("before the update:\n%s", out)
	}
	o := h.object(t, "configmaps", "live")
	var c corev1.ConfigMap
	reconcile.DecodeInto(o, &c)
	c.Data = map[string]string{"a": "two", "b": "two"}
	h.appendAs(t, must(reconcile.Update(cmKind, &c, o, "spec")))
	so := h.object(t, "secrets", "tok")
	var s corev1.Secret
	reconcile.DecodeInto(so, &s)
	s.Data = map[string][]byte{"token": []byte("v2")}
	h.appendAs(t, must(reconcile.Update(secKind, &s, so, "spec")))
	var out string
	h.wait(t, 10*time.Second, "the volumes to follow", func() bool {
		out = read()
		return strings.Contains(out, "== /cfg/a 644\ntwo") && strings.Contains(out, "== /cfg/b 644\ntwo") && strings.Contains(out, "== /sec/token 644\nv2")
	})
	if !strings.Contains(out, "== /cfg/gone error") {
		t.Errorf("a removed key is still there:\n%s", out)
	}
	if !strings.Contains(out, "== /pinned-a 644\none") {
		t.Errorf("the subPath mount changed (Kubernetes keeps the bound file):\n%s", out)
	}
}

// object is a namespaced object of the default namespace from the view.
func (h *harness) object(t *testing.T, resource, name string) *projections.Object {
	t.Helper()
	o, ok := h.view.Get(events.Ref{Resource: resource, Namespace: "default", Name: name})
	if !ok {
		t.Fatalf("%s/%s not in the view", resource, name)
	}
	return o
}
