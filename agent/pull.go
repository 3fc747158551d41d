package agent

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/agent/image"
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
func (a *Agent) ensureImage(ctx context.Context, c *corev1.Container) (*image.Image, error) {
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
	return a.pull(ctx, c.Image)
}

type imageNeverPull struct{ msg string }

func (e *imageNeverPull) Error() string { return e.msg }

// pull deduplicates concurrent pulls of one reference.
func (a *Agent) pull(ctx context.Context, ref string) (*image.Image, error) {
	a.pullMu.Lock()
	call, ok := a.pulls[ref]
	if !ok {
		call = &pullCall{done: make(chan struct{})}
		a.pulls[ref] = call
		go func() {
			call.im, call.err = a.images.Pull(context.WithoutCancel(ctx), ref, nil, a.cfg.InsecureRegistries)
			a.pullMu.Lock()
			delete(a.pulls, ref)
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
