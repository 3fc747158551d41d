package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// Secret types and keys of image pull secrets, as Kubernetes names them.
const (
	SecretTypeDockerConfigJSON = "kubernetes.io/dockerconfigjson"
	SecretKeyDockerConfigJSON  = ".dockerconfigjson"
	SecretTypeDockercfg        = "kubernetes.io/dockercfg"
	SecretKeyDockercfg         = ".dockercfg"
)

// Keychain holds registry credentials from docker config files (the data
// of image pull secrets) and picks them by registry host and repository
// path, as the kubelet does: keys may carry a scheme ("https://"), a port,
// a path prefix ("registry:5000/team") and "*" globs in host labels
// ("*.example.com"); "docker.io", "index.docker.io" and
// "https://index.docker.io/v1/" all mean Docker Hub. It is an
// authn.Keychain; Matching gives every credential that applies, most
// specific first, for a pull that tries each.
type Keychain struct {
	entries []credential
}

type credential struct {
	host, port, path string // matching key; path without leading/trailing "/"
	auth             authn.AuthConfig
}

var _ authn.Keychain = (*Keychain)(nil)

// AddDockerConfigJSON adds the credentials of a .dockerconfigjson
// ({"auths": {"<registry>": {"auth": …}}}).
func (k *Keychain) AddDockerConfigJSON(b []byte) error {
	var cfg struct {
		Auths map[string]authn.AuthConfig `json:"auths"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %w", SecretKeyDockerConfigJSON, err)
	}
	if cfg.Auths == nil {
		return fmt.Errorf("%s: no \"auths\"", SecretKeyDockerConfigJSON)
	}
	return k.add(cfg.Auths)
}

// AddDockercfg adds the credentials of a legacy .dockercfg
// ({"<registry>": {"auth": …}}).
func (k *Keychain) AddDockercfg(b []byte) error {
	var auths map[string]authn.AuthConfig
	if err := json.Unmarshal(b, &auths); err != nil {
		return fmt.Errorf("%s: %w", SecretKeyDockercfg, err)
	}
	return k.add(auths)
}

func (k *Keychain) add(auths map[string]authn.AuthConfig) error {
	var errs []error
	keys := make([]string, 0, len(auths))
	for key := range auths {
		keys = append(keys, key)
	}
	slices.Sort(keys) // deterministic order among equally specific keys
	for _, key := range keys {
		c, err := parseCredentialKey(key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.auth = auths[key]
		k.entries = append(k.entries, c)
	}
	return errors.Join(errs...)
}

// parseCredentialKey splits a docker config key into host, port and path.
func parseCredentialKey(key string) (credential, error) {
	s := strings.TrimSpace(key)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || strings.ContainsAny(u.Host, "@") {
		return credential{}, fmt.Errorf("registry key %q is not a host[:port][/path]", key)
	}
	c := credential{host: strings.ToLower(u.Hostname()), port: u.Port(), path: strings.Trim(u.Path, "/")}
	if hub(c.host) {
		c.host, c.path = name.DefaultRegistry, "" // "https://index.docker.io/v1/": v1 is an API version, not a path
	}
	return c, nil
}

func hub(host string) bool {
	return host == "docker.io" || host == name.DefaultRegistry || host == "registry-1.docker.io"
}

// matches reports whether credential c applies to repository repo of
// registry (host[:port]).
func (c credential) matches(registry, repo string) bool {
	host, port := registry, ""
	if i := strings.LastIndexByte(registry, ':'); i >= 0 && !strings.Contains(registry[i:], "]") {
		host, port = registry[:i], registry[i+1:]
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if hub(host) {
		host = name.DefaultRegistry
	}
	if c.port != port || !globHost(c.host, host) {
		return false
	}
	return c.path == "" || repo == c.path || strings.HasPrefix(repo, c.path+"/")
}

// globHost matches host against pattern label by label ("*.example.com"
// matches "a.example.com", not "a.b.example.com").
func globHost(pattern, host string) bool {
	pl, hl := strings.Split(pattern, "."), strings.Split(host, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if ok, err := path.Match(pl[i], hl[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

// Matching returns the credentials that apply to ref, most specific
// (longest path, then exact host before glob) first.
func (k *Keychain) Matching(ref string) []authn.AuthConfig {
	r, err := name.ParseReference(ref)
	if err != nil || k == nil {
		return nil
	}
	reg, repo := r.Context().RegistryStr(), r.Context().RepositoryStr()
	var found []credential
	for _, c := range k.entries {
		if c.matches(reg, repo) {
			found = append(found, c)
		}
	}
	slices.SortStableFunc(found, func(a, b credential) int {
		if len(a.path) != len(b.path) {
			return len(b.path) - len(a.path)
		}
		return strings.Count(a.host, "*") - strings.Count(b.host, "*")
	})
	out := make([]authn.AuthConfig, len(found))
	for i, c := range found {
		out[i] = c.auth
	}
	return out
}

// Resolve implements authn.Keychain: the most specific credential for the
// registry, or anonymous.
func (k *Keychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	ref := res.String()
	if _, ok := res.(name.Registry); ok {
		ref += "/x"
	}
	if m := k.Matching(ref); len(m) > 0 {
		return authn.FromConfig(m[0]), nil
	}
	return authn.Anonymous, nil
}
