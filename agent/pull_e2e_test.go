package agent

import (
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ti "github.com/wakehq/wake/internal/testimage"
	"github.com/wakehq/wake/services/reconcile"
)

// authRegistry serves one registry twice: open (for the test to push) and
// behind basic auth (for the agent to pull), answering 401 as real
// registries do.
func authRegistry(t *testing.T, user, pass string) (open, authed string) {
	inner := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	o := httptest.NewServer(inner)
	t.Cleanup(o.Close)
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="wake-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(a.Close)
	return strings.TrimPrefix(o.URL, "http://"), strings.TrimPrefix(a.URL, "http://")
}

func TestImagePullSecrets(t *testing.T) {
	h := newHarness(t)
	open, authed := authRegistry(t, "wake", "s3cret")
	ti.Push(t, open, "private/tool:v1", ti.Image(t))
	ref := authed + "/private/tool:v1"
	h.stop(t)
	h.cfg.InsecureRegistries = append(h.cfg.InsecureRegistries, authed)
	h.startAgent(t)

	auth := base64.StdEncoding.EncodeToString([]byte("wake:s3cret"))
	for _, s := range []*corev1.Secret{{
		ObjectMeta: metav1.ObjectMeta{Name: "regcred", Namespace: "default"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"` + authed + `":{"auth":"` + auth + `"}}}`)},
	}, {
		ObjectMeta: metav1.ObjectMeta{Name: "wrong", Namespace: "default"}, Type: corev1.SecretTypeDockercfg,
		Data: map[string][]byte{corev1.DockerConfigKey: []byte(`{"http://` + authed + `":{"username":"wake","password":"nope"}}`)},
	}} {
		h.appendAs(t, must(reconcile.Create(reconcile.MustKind("", "secrets"), s, time.Now(), s.Name)))
	}
	pod := func(name string, secrets ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr(int64(1)),
			Containers:                    []corev1.Container{{Name: "c", Image: ref, Args: []string{"serve", ":8080"}}},
		}}
		for _, s := range secrets {
			p.Spec.ImagePullSecrets = append(p.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
		}
		return p
	}
	pullFailed := func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		w := p.Status.ContainerStatuses[0].State.Waiting
		return w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff")
	}
	h.createPod(t, pod("anonymous"))
	p := h.waitPod(t, "anonymous", "ErrImagePull", pullFailed)
	if msg := p.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "UNAUTHORIZED") {
		t.Errorf("message = %q, want the registry's 401 reason", msg)
	}
	h.createPod(t, pod("wrong", "wrong", "missing"))
	h.waitPod(t, "wrong", "ErrImagePull", pullFailed)
	if _, err := h.agent.images.Get(ref); err == nil {
		t.Fatal("the image is in the store without credentials")
	}
	// The right secret among others: the pull tries each that applies.
	h.createPod(t, pod("private", "missing", "wrong", "regcred"))
	p = h.waitPod(t, "private", "Running", running)
	if id := p.Status.ContainerStatuses[0].ImageID; !strings.HasPrefix(id, authed+"/private/tool@sha256:") {
		t.Errorf("imageID = %q", id)
	}
	if im, err := h.agent.images.Get(ref); err != nil || len(im.Refs) == 0 {
		t.Errorf("store: %v, %v", im, err)
	}
}
