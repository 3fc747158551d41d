package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/services/reconcile"
)

// pullCall is one pull in flight, shared by every container waiting for
// the same reference.
type pullCall struct {
	done chan struct{}
	im   *image.Image
	err  error
}

// ensureImage applies the container's imagePullPolicy: Always pulls (the
// registry says whether anything changed), IfNotPresent pulls only what
// the store lacks, Never uses the store or fails with ErrImageNeverPull.
// Pulls use the credentials of the pod's imagePullSecrets.
func (a *Agent) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (*image.Image, error) {
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = corev1.PullIfNotPresent
	}
	if policy != corev1.PullAlways {
		im, err := a.images.Get(c.Image)
		if err == nil {
			return im, nil
		}
		if !errors.Is(err, image.ErrNotFound) {
			return nil, err
		}
		if policy == corev1.PullNever {
			return nil, &imageNeverPull{fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)}
		}
	}
	return a.pull(ctx, c.Image, a.pullCredentials(pod, c.Image))
}

type imageNeverPull struct{ msg string }

func (e *imageNeverPull) Error() string { return e.msg }

// pullCredentials are the credentials of the pod's imagePullSecrets
// (kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg Secrets of
// its namespace, read from the view) that apply to ref, most specific
// first. A missing or malformed secret is skipped, as the kubelet does.
func (a *Agent) pullCredentials(pod *corev1.Pod, ref string) []authn.AuthConfig {
	var k image.Keychain
	for _, s := range pod.Spec.ImagePullSecrets {
		o, ok := a.cfg.View.Get(events.Ref{Resource: "secrets", Namespace: pod.Namespace, Name: s.Name})
		if !ok {
			a.log.Warn("image pull secret not found; pulling without it", "pod", pod.Namespace+"/"+pod.Name, "secret", s.Name)
			continue
		}
		var sec corev1.Secret
		if reconcile.DecodeInto(o, &sec) != nil {
			continue
		}
		for k, v := range sec.StringData {
			if sec.Data == nil {
				sec.Data = map[string][]byte{}
			}
			sec.Data[k] = []byte(v)
		}
		var err error
		switch {
		case sec.Type == image.SecretTypeDockerConfigJSON && sec.Data[image.SecretKeyDockerConfigJSON] != nil:
			err = k.AddDockerConfigJSON(sec.Data[image.SecretKeyDockerConfigJSON])
		case sec.Type == image.SecretTypeDockercfg && sec.Data[image.SecretKeyDockercfg] != nil:
			err = k.AddDockercfg(sec.Data[image.SecretKeyDockercfg])
		default:
			err = fmt.Errorf("type %q is not %s or %s", sec.Type, image.SecretTypeDockerConfigJSON, image.SecretTypeDockercfg)
		}
		if err != nil {
			a.log.Warn("image pull secret not usable", "pod", pod.Namespace+"/"+pod.Name, "secret", s.Name, "err", err)
		}
	}
	return k.Matching(ref)
}

// pull deduplicates concurrent pulls of one reference with the same
// credentials, and tries each credential in turn (anonymous without any)
// until one works; the last failure is returned.
func (a *Agent) pull(ctx context.Context, ref string, creds []authn.AuthConfig) (*image.Image, error) {
	key := ref
	if len(creds) > 0 {
		b, _ := json.Marshal(creds)
		sum := sha256.Sum256(b)
		key += "\x00" + hex.EncodeToString(sum[:])
	}
	a.pullMu.Lock()
	call, ok := a.pulls[key]
	if !ok {
		call = &pullCall{done: make(chan struct{})}
		a.pulls[key] = call
		go func() {
			pctx := context.WithoutCancel(ctx)
			if len(creds) == 0 {
				call.im, call.err = a.images.Pull(pctx, ref, nil, a.cfg.InsecureRegistries)
			}
			for _, cr := range creds {
				call.im, call.err = a.images.Pull(pctx, ref, authn.FromConfig(cr), a.cfg.InsecureRegistries)
				if call.err == nil {
					break
				}
			}
			a.pullMu.Lock()
			delete(a.pulls, key)
			a.pullMu.Unlock()
			close(call.done)
		}()
	}
	a.pullMu.Unlock()
	select {
	case <-call.done:
		return call.im, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
