package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Normalize turns a Docker-style reference into its full form, as the
// kubelet and Docker do: "nginx" → "index.docker.io/library/nginx:latest".
func Normalize(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	return r.Name(), nil
}

// PullError is a failed pull. Reason is what the agent shows in
// ErrImagePull; it keeps the registry's own words ("MANIFEST_UNKNOWN:
// manifest unknown", "UNAUTHORIZED: …").
type PullError struct {
	Ref    string
	Reason string
	// Retryable is false for answers that will not change by asking again
	// soon (bad reference, not found, unauthorized); the agent still backs
	// off (ImagePullBackOff) but may report differently.
	Retryable bool
	Err       error
}

func (e *PullError) Error() string { return fmt.Sprintf("pull %s: %s", e.Ref, e.Reason) }
func (e *PullError) Unwrap() error { return e.Err }

// Pull fetches ref for linux/amd64 (the node's platform) from its registry
// and stores it. auth may be nil (anonymous). Registries listed in insecure
// (host[:port]) are reached over plain HTTP.
func (s *Store) Pull(ctx context.Context, ref string, auth authn.Authenticator, insecure []string) (*Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, &PullError{Ref: ref, Reason: "invalid reference: " + err.Error(), Err: err}
	}
	if slices.Contains(insecure, r.Context().RegistryStr()) {
		if r, err = name.ParseReference(ref, name.Insecure); err != nil {
			return nil, &PullError{Ref: ref, Reason: err.Error(), Err: err}
		}
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	img, err := remote.Image(r, remote.WithContext(ctx), remote.WithAuth(auth),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if err != nil {
		return nil, pullError(r.Name(), err)
	}
	im, err := s.add(r.Name(), img)
	if err != nil {
		return nil, pullError(r.Name(), err)
	}
	return im, nil
}

func pullError(ref string, err error) *PullError {
	pe := &PullError{Ref: ref, Reason: err.Error(), Err: err}
	var te *transport.Error
	var ne net.Error
	switch {
	case errors.As(err, &te):
		pe.Retryable = te.Temporary() || te.StatusCode >= 500 || te.StatusCode == http.StatusTooManyRequests
		if len(te.Errors) > 0 {
			pe.Reason = te.Errors[0].String()
			for _, d := range te.Errors[1:] {
				pe.Reason += "; " + d.String()
			}
		}
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		pe.Retryable = true
	}
	return pe
}
