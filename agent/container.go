package agent

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/agent/runtime"
)

// configError is a container that cannot be configured yet (a missing
// ConfigMap, Secret or key): the kubelet's CreateContainerConfigError.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// Lookup finds the objects a container's configuration refers to, in the
// pod's namespace; ok is false when the object does not exist.
type Lookup interface {
	ConfigMap(name string) (data map[string]string, ok bool)
	Secret(name string) (data map[string][]byte, ok bool)
}

// command applies Kubernetes' rules to the image's ENTRYPOINT and CMD:
// no command and no args runs ENTRYPOINT+CMD; args alone replace CMD; a
// command replaces both (and args follow it). $(VAR) references expand
// from env.
func command(c *corev1.Container, cfg image.Config, env map[string]string) []string {
	var out []string
	switch {
	case len(c.Command) == 0 && len(c.Args) == 0:
		out = append(slices.Clone(cfg.Entrypoint), cfg.Cmd...)
	case len(c.Command) == 0:
		out = append(slices.Clone(cfg.Entrypoint), expandAll(c.Args, env)...)
	default:
		out = append(expandAll(c.Command, env), expandAll(c.Args, env)...)
	}
	return out
}

func expandAll(in []string, env map[string]string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, env)
	}
	return out
}

// expand replaces $(VAR) with env's value, as Kubernetes does: $$ escapes
// a $, and a reference to an undefined variable stays as written.
func expand(s string, env map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// podFields are the values fieldRef can reference.
func podFields(pod *corev1.Pod) map[string]string {
	return map[string]string{
		"metadata.name": pod.Name, "metadata.namespace": pod.Namespace, "metadata.uid": string(pod.UID),
		"spec.nodeName": pod.Spec.NodeName, "spec.serviceAccountName": pod.Spec.ServiceAccountName,
		"status.hostIP": pod.Status.HostIP, "status.podIP": pod.Status.PodIP,
	}
}

func fieldValue(pod *corev1.Pod, path string) (string, error) {
	if v, ok := podFields(pod)[path]; ok {
		return v, nil
	}
	for _, m := range []struct {
		prefix string
		from   map[string]string
	}{{"metadata.labels", pod.Labels}, {"metadata.annotations", pod.Annotations}} {
		if rest, ok := strings.CutPrefix(path, m.prefix+"['"); ok && strings.HasSuffix(rest, "']") {
			return m.from[strings.TrimSuffix(rest, "']")], nil
		}
	}
	return "", &configError{fmt.Sprintf("unsupported fieldRef %q", path)}
}

// environment is the container's environment in order: the image's, then
// envFrom, then env (later entries win), with $(VAR) references in env
// values expanded from the variables defined before them.
func environment(pod *corev1.Pod, c *corev1.Container, cfg image.Config, lk Lookup) ([]string, map[string]string, error) {
	var order []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		set(k, v)
	}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			data, ok := lk.ConfigMap(from.ConfigMapRef.Name)
			if !ok {
				if optional(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, nil, &configError{fmt.Sprintf("configmap %q not found", from.ConfigMapRef.Name)}
			}
			for _, k := range slices.Sorted(maps.Keys(data)) {
				set(from.Prefix+k, data[k])
			}
		case from.SecretRef != nil:
			data, ok := lk.Secret(from.SecretRef.Name)
			if !ok {
				if optional(from.SecretRef.Optional) {
					continue
				}
				return nil, nil, &configError{fmt.Sprintf("secret %q not found", from.SecretRef.Name)}
			}
			for _, k := range slices.Sorted(maps.Keys(data)) {
				set(from.Prefix+k, string(data[k]))
			}
		}
	}
	// Expansion sees only the variables of the container's spec (env and
	// envFrom), not the image's: Kubernetes' rule.
	specVars := map[string]string{}
	for _, k := range order {
		if !slices.ContainsFunc(cfg.Env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") }) {
			specVars[k] = vals[k]
		}
	}
	for _, e := range c.Env {
		v, skip, err := envValue(pod, e, specVars, lk)
		if err != nil {
			return nil, nil, err
		}
		if skip {
			continue
		}
		set(e.Name, v)
		specVars[e.Name] = v
	}
	out := make([]string, len(order))
	for i, k := range order {
		out[i] = k + "=" + vals[k]
	}
	return out, specVars, nil
}

func envValue(pod *corev1.Pod, e corev1.EnvVar, vars map[string]string, lk Lookup) (string, bool, error) {
	if e.ValueFrom == nil {
		return expand(e.Value, vars), false, nil
	}
	vf := e.ValueFrom
	switch {
	case vf.ConfigMapKeyRef != nil:
		r := vf.ConfigMapKeyRef
		data, ok := lk.ConfigMap(r.Name)
		v, has := data[r.Key]
		if !ok || !has {
			if optional(r.Optional) {
				return "", true, nil
			}
			if !ok {
				return "", false, &configError{fmt.Sprintf("configmap %q not found", r.Name)}
			}
			return "", false, &configError{fmt.Sprintf("couldn't find key %s in ConfigMap %s/%s", r.Key, pod.Namespace, r.Name)}
		}
		return v, false, nil
	case vf.SecretKeyRef != nil:
		r := vf.SecretKeyRef
		data, ok := lk.Secret(r.Name)
		v, has := data[r.Key]
		if !ok || !has {
			if optional(r.Optional) {
				return "", true, nil
			}
			if !ok {
				return "", false, &configError{fmt.Sprintf("secret %q not found", r.Name)}
			}
			return "", false, &configError{fmt.Sprintf("couldn't find key %s in Secret %s/%s", r.Key, pod.Namespace, r.Name)}
		}
		return string(v), false, nil
	case vf.FieldRef != nil:
		v, err := fieldValue(pod, vf.FieldRef.FieldPath)
		return v, false, err
	case vf.ResourceFieldRef != nil:
		return resourceField(pod, vf.ResourceFieldRef), false, nil
	}
	return "", true, nil
}

func resourceField(pod *corev1.Pod, r *corev1.ResourceFieldSelector) string {
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		if c.Name != r.ContainerName && r.ContainerName != "" {
			continue
		}
		var q = c.Resources.Limits
		name := r.Resource
		if rest, ok := strings.CutPrefix(name, "requests."); ok {
			q, name = c.Resources.Requests, rest
		} else {
			name = strings.TrimPrefix(name, "limits.")
		}
		v, ok := q[corev1.ResourceName(name)]
		if !ok {
			return ""
		}
		div := int64(1)
		if !r.Divisor.IsZero() {
			div = r.Divisor.Value()
		}
		if name == "cpu" {
			return strconv.FormatInt((v.MilliValue()+999)/1000, 10)
		}
		return strconv.FormatInt(v.Value()/max(div, 1), 10)
	}
	return ""
}

func optional(b *bool) bool { return b != nil && *b }

// limits turns requests and limits into cgroup settings: CPU shares from
// the request (or the limit when no request), a CFS quota from the CPU
// limit, the memory limit.
func limits(c *corev1.Container) runtime.Resources {
	var r runtime.Resources
	if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		r.MemoryBytes = m.Value()
	}
	cpuReq, ok := c.Resources.Requests[corev1.ResourceCPU]
	if !ok {
		cpuReq, ok = c.Resources.Limits[corev1.ResourceCPU]
	}
	if ok {
		r.CPUShares = uint64(max(cpuReq.MilliValue()*1024/1000, 2))
	}
	if l, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		r.CPUPeriodUS = 100000
		r.CPUQuotaUS = max(l.MilliValue()*100, 1000)
	}
	return r
}

// user is the container's uid and gid: the securityContext's (container
// over pod), else the image's numeric USER ("uid" or "uid:gid"). Names
// are not resolved yet.
func user(pod *corev1.Pod, c *corev1.Container, cfg image.Config, layers []string) (uint32, uint32, error) {
	var uid, gid uint32
	if cfg.User != "" {
		var err error
		if uid, gid, err = imageUser(layers, cfg.User); err != nil {
			return 0, 0, err
		}
	}
	apply := func(u, g *int64) {
		if u != nil {
			uid = uint32(*u)
		}
		if g != nil {
			gid = uint32(*g)
		}
	}
	if sc := pod.Spec.SecurityContext; sc != nil {
		apply(sc.RunAsUser, sc.RunAsGroup)
	}
	if sc := c.SecurityContext; sc != nil {
		apply(sc.RunAsUser, sc.RunAsGroup)
	}
	nonRoot := false
	if sc := pod.Spec.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if sc := c.SecurityContext; sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if nonRoot && uid == 0 {
		return 0, 0, &configError{"container has runAsNonRoot and image will run as root"}
	}
	return uid, gid, nil
}

func privileged(c *corev1.Container) bool {
	return c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
}

// seccompOf is the container's seccomp profile: its own securityContext's,
// else the pod's, else the runtime's default (RuntimeDefault).
func seccompOf(pod *corev1.Pod, c *corev1.Container) runtime.Seccomp {
	var p *corev1.SeccompProfile
	if sc := pod.Spec.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		p = sc.SeccompProfile
	}
	if sc := c.SecurityContext; sc != nil && sc.SeccompProfile != nil {
		p = sc.SeccompProfile
	}
	if p == nil {
		return runtime.Seccomp{}
	}
	s := runtime.Seccomp{Type: runtime.SeccompType(p.Type)}
	if p.LocalhostProfile != nil {
		s.LocalhostProfile = *p.LocalhostProfile
	}
	return s
}

// localSeccomp resolves a Localhost profile to its file under dir (the
// node's profile directory, <state>/seccomp, as the kubelet's
// <root>/seccomp): a relative path that stays inside it, or a config
// error the pod shows.
func localSeccomp(s runtime.Seccomp, dir string) (runtime.Seccomp, error) {
	if s.Type != runtime.SeccompLocalhost {
		return s, nil
	}
	p := s.LocalhostProfile
	if p == "" || filepath.IsAbs(p) || !filepath.IsLocal(p) {
		return s, &configError{fmt.Sprintf("seccomp profile Localhost/%s: want a relative path inside the node's profile directory %s", p, dir)}
	}
	s.LocalhostProfile = filepath.Join(dir, p)
	if _, err := os.Stat(s.LocalhostProfile); err != nil {
		return s, &configError{fmt.Sprintf("seccomp profile Localhost/%s: %v", p, err)}
	}
	return s, nil
}
