package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/agent/runtime"
)

// podShm is the pod's shared /dev/shm on the host: under volumes/ (so that
// teardown unmounts it), with a name no volume can have.
func podShm(podDir string) string { return filepath.Join(podDir, "volumes", ".shm") }

// shmMount is a container's /dev/shm: the pod's, or the node's with
// hostIPC.
func shmMount(pod *corev1.Pod, podDir string) runtime.Mount {
	if pod.Spec.HostIPC {
		return runtime.Mount{Source: "/dev/shm", Destination: "/dev/shm"}
	}
	return runtime.Mount{Source: podShm(podDir), Destination: "/dev/shm"}
}

// volumeDir is where a pod's volume lives on the host.
func volumeDir(podDir, name string) string { return filepath.Join(podDir, "volumes", name) }

// refreshVolumes brings the pod's configMap and secret volumes up to date
// with their objects (populate writes only what changed). An object that
// went away, or a key that did, leaves the files as they were, as with the
// kubelet.
func (a *Agent) refreshVolumes(pod *corev1.Pod, podDir string, lk Lookup) {
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap == nil && v.Secret == nil && v.Projected == nil && v.DownwardAPI == nil {
			continue
		}
		if _, err := a.setupVolume(pod, v, podDir, lk); err != nil {
			a.log.Debug("volume not refreshed", "pod", pod.Namespace+"/"+pod.Name, "volume", v.Name, "err", err)
		}
	}
}

// setupVolumes prepares every volume of the pod and returns their host
// paths by name. It is idempotent.
func (a *Agent) setupVolumes(pod *corev1.Pod, podDir string, lk Lookup) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		p, err := a.setupVolume(pod, v, podDir, lk)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		out[v.Name] = p
	}
	return out, nil
}

func (a *Agent) setupVolume(pod *corev1.Pod, v corev1.Volume, podDir string, lk Lookup) (string, error) {
	dir := volumeDir(podDir, v.Name)
	switch {
	case v.EmptyDir != nil:
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return "", err
		}
		os.Chmod(dir, 0o777) // any container user may write, as the kubelet does
		if v.EmptyDir.Medium == corev1.StorageMediumMemory {
			size := ""
			if v.EmptyDir.SizeLimit != nil && !v.EmptyDir.SizeLimit.IsZero() {
				size = fmt.Sprintf(",size=%d", v.EmptyDir.SizeLimit.Value())
			}
			if err := ensureTmpfs(dir, "mode=1777"+size); err != nil {
				return "", err
			}
		}
		return dir, nil
	case v.ConfigMap != nil:
		data, ok := lk.ConfigMap(v.ConfigMap.Name)
		if !ok && !optional(v.ConfigMap.Optional) {
			return "", &configError{fmt.Sprintf("configmap %q not found", v.ConfigMap.Name)}
		}
		files := map[string][]byte{}
		for k, s := range data {
			files[k] = []byte(s)
		}
		return dir, populate(dir, false, files, v.ConfigMap.Items, v.ConfigMap.DefaultMode, 0o644)
	case v.Secret != nil:
		data, ok := lk.Secret(v.Secret.SecretName)
		if !ok && !optional(v.Secret.Optional) {
			return "", &configError{fmt.Sprintf("secret %q not found", v.Secret.SecretName)}
		}
		return dir, populate(dir, true, data, v.Secret.Items, v.Secret.DefaultMode, 0o400)
	case v.HostPath != nil:
		return a.hostPath(v.HostPath)
	case v.DownwardAPI != nil:
		files, err := downwardFiles(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
		if err != nil {
			return "", err
		}
		return dir, writeAtomic(dir, false, files)
	case v.Projected != nil:
		files, secret, err := projectedFiles(pod, v.Projected, lk)
		if err != nil {
			return "", err
		}
		return dir, writeAtomic(dir, secret, files)
	}
	return "", &configError{"volume type not supported by wake's agent yet (emptyDir, configMap, secret, downwardAPI, projected, hostPath are)"}
}

// downwardFiles are a downwardAPI volume's (or projection's) files: pod
// fields (labels and annotations as key="value" lines, sorted) and
// container resources.
func downwardFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode *int32) ([]volumeFile, error) {
	mode := os.FileMode(corev1.DownwardAPIVolumeSourceDefaultMode)
	if defaultMode != nil {
		mode = os.FileMode(*defaultMode) & 0o777
	}
	var files []volumeFile
	for _, it := range items {
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode) & 0o777
		}
		var body string
		switch {
		case it.FieldRef != nil && (it.FieldRef.FieldPath == "metadata.labels" || it.FieldRef.FieldPath == "metadata.annotations"):
			kv := pod.Labels
			if it.FieldRef.FieldPath == "metadata.annotations" {
				kv = pod.Annotations
			}
			var lines []string
			for _, k := range slices.Sorted(maps.Keys(kv)) {
				lines = append(lines, fmt.Sprintf("%s=%q", k, kv[k]))
			}
			body = strings.Join(lines, "\n")
		case it.FieldRef != nil:
			v, err := fieldValue(pod, it.FieldRef.FieldPath)
			if err != nil {
				return nil, err
			}
			body = v
		case it.ResourceFieldRef != nil:
			body = resourceField(pod, it.ResourceFieldRef)
		default:
			return nil, &configError{fmt.Sprintf("downwardAPI item %q: no fieldRef or resourceFieldRef", it.Path)}
		}
		files = append(files, volumeFile{it.Path, m, []byte(body)})
	}
	return files, nil
}

// projectedFiles gather a projected volume's sources (configMaps, secrets,
// downwardAPI) into one set of files; secret says whether any is a secret
// (then the volume lives on a tmpfs). Service account tokens need a token
// issuer wake does not have yet: refused with a clear error.
func projectedFiles(pod *corev1.Pod, p *corev1.ProjectedVolumeSource, lk Lookup) (files []volumeFile, secret bool, err error) {
	var more []volumeFile
	for i, src := range p.Sources {
		switch {
		case src.ConfigMap != nil:
			data, ok := lk.ConfigMap(src.ConfigMap.Name)
			if !ok && !optional(src.ConfigMap.Optional) {
				return nil, false, &configError{fmt.Sprintf("configmap %q not found", src.ConfigMap.Name)}
			}
			b := map[string][]byte{}
			for k, v := range data {
				b[k] = []byte(v)
			}
			more, err = selectFiles(b, src.ConfigMap.Items, p.DefaultMode, 0o644)
		case src.Secret != nil:
			data, ok := lk.Secret(src.Secret.Name)
			if !ok && !optional(src.Secret.Optional) {
				return nil, false, &configError{fmt.Sprintf("secret %q not found", src.Secret.Name)}
			}
			secret = true
			more, err = selectFiles(data, src.Secret.Items, p.DefaultMode, 0o644)
		case src.DownwardAPI != nil:
			more, err = downwardFiles(pod, src.DownwardAPI.Items, p.DefaultMode)
		default:
			return nil, false, &configError{fmt.Sprintf("projected source %d: only configMap, secret and downwardAPI sources are supported by wake's agent (no service account tokens yet)", i)}
		}
		if err != nil {
			return nil, false, err
		}
		files = append(files, more...)
	}
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.path] {
			return nil, false, &configError{fmt.Sprintf("projected volume: two sources write %q", f.path)}
		}
		seen[f.path] = true
	}
	return files, secret, nil
}

// populate writes a configMap or secret volume as the kubelet's atomic
// writer does: the selected keys (all when items is empty) as files with
// mode (defaultMode or def) in a fresh hidden directory, made current by
// renaming the symlink ..data onto it, each top-level name a symlink into
// ..data. A container sees either the old set of files or the new one,
// never a mix; on a tmpfs when secret. It writes nothing when the content
// is what ..data already holds, so it is called on every sync and follows
// changes of the ConfigMap or Secret (subPath mounts keep the file they
// bound, as in Kubernetes).
func populate(dir string, secret bool, data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, def os.FileMode) error {
	files, err := selectFiles(data, items, defaultMode, def)
	if err != nil {
		return err
	}
	return writeAtomic(dir, secret, files)
}

// volumeFile is one file of a configMap, secret, downwardAPI or projected
// volume.
type volumeFile struct {
	path string
	mode os.FileMode
	body []byte
}

// selectFiles are the keys of data a volume shows: all of them (sorted)
// when items is empty, else the items, each with its mode.
func selectFiles(data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, def os.FileMode) ([]volumeFile, error) {
	mode := def
	if defaultMode != nil {
		mode = os.FileMode(*defaultMode) & 0o777
	}
	var files []volumeFile
	if len(items) == 0 {
		for _, k := range slices.Sorted(maps.Keys(data)) {
			files = append(files, volumeFile{k, mode, data[k]})
		}
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			return nil, &configError{fmt.Sprintf("key %q not found", it.Key)}
		}
		m := mode
		if it.Mode != nil {
			m = os.FileMode(*it.Mode) & 0o777
		}
		files = append(files, volumeFile{it.Path, m, b})
	}
	return files, nil
}

// writeAtomic makes files the volume's content (see populate), on a tmpfs
// when secret.
func writeAtomic(dir string, secret bool, files []volumeFile) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if secret {
		if err := ensureTmpfs(dir, "mode=0755,size=16m"); err != nil {
			return err
		}
	}
	for _, f := range files {
		if !filepath.IsLocal(f.path) || strings.HasPrefix(f.path, "..") {
			return &configError{fmt.Sprintf("path %q: must be relative, inside the volume, and not start with ..", f.path)}
		}
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", f.path, f.mode, len(f.body))
		h.Write(f.body)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	if cur, err := os.Readlink(filepath.Join(dir, dataLink)); err == nil && strings.HasSuffix(cur, "_"+sum) {
		return nil // already current
	}
	gen := fmt.Sprintf("..%d_%s", time.Now().UnixNano(), sum)
	if err := os.Mkdir(filepath.Join(dir, gen), 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(filepath.Join(dir, gen)) // keys and paths cannot escape the volume
	if err != nil {
		return err
	}
	defer root.Close()
	tops := map[string]bool{}
	for _, f := range files {
		if d := filepath.Dir(f.path); d != "." {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("%s: %w", f.path, err)
			}
		}
		if err := root.WriteFile(f.path, f.body, f.mode); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		if err := root.Chmod(f.path, f.mode); err != nil {
			return err
		}
		tops[strings.SplitN(filepath.ToSlash(f.path), "/", 2)[0]] = true
	}
	// Swap ..data in one rename, then make the visible names match.
	tmp := filepath.Join(dir, dataLink+"_tmp")
	os.Remove(tmp)
	if err := os.Symlink(gen, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		return err
	}
	for t := range tops {
		link := filepath.Join(dir, t)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataLink, t) {
			continue
		}
		os.RemoveAll(link) // an old layout's file, or nothing
		if err := os.Symlink(filepath.Join(dataLink, t), link); err != nil {
			return err
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		switch {
		case n == dataLink || n == gen:
		case strings.HasPrefix(n, ".."):
			os.RemoveAll(filepath.Join(dir, n)) // earlier generations
		case !tops[n]:
			os.RemoveAll(filepath.Join(dir, n)) // a key that went away
		}
	}
	return nil
}

// dataLink is the symlink to a configMap or secret volume's current files.
const dataLink = "..data"

// ensureTmpfs mounts a tmpfs on dir unless one is there.
func ensureTmpfs(dir, opts string) error {
	var st, parent unix.Stat_t
	if unix.Stat(dir, &st) == nil && unix.Stat(filepath.Dir(dir), &parent) == nil && st.Dev != parent.Dev {
		return nil // already a mount point
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// hostPath checks a hostPath volume against its type and the agent's
// protected paths, creating it for the *OrCreate types.
func (a *Agent) hostPath(h *corev1.HostPathVolumeSource) (string, error) {
	p := filepath.Clean(h.Path)
	if !filepath.IsAbs(p) {
		return "", &configError{fmt.Sprintf("hostPath %q is not absolute", h.Path)}
	}
	typ := corev1.HostPathUnset
	if h.Type != nil {
		typ = *h.Type
	}
	if err := checkProtected(p, a.protected()); err != nil {
		return "", err
	}
	switch typ {
	case corev1.HostPathDirectoryOrCreate:
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", err
		}
	case corev1.HostPathFileOrCreate:
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return "", err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return "", err
			}
			f.Close()
		}
	}
	// Check again after symlinks resolve: a link must not lead into a
	// protected path either.
	real, err := filepath.EvalSymlinks(p)
	if err == nil {
		if err := checkProtected(real, a.protected()); err != nil {
			return "", err
		}
	}
	if typ == corev1.HostPathUnset {
		return p, nil
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", &configError{fmt.Sprintf("hostPath type check failed: %s is not a %s", p, typ)}
	}
	ok := false
	switch typ {
	case corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory:
		ok = fi.IsDir()
	case corev1.HostPathFileOrCreate, corev1.HostPathFile:
		ok = fi.Mode().IsRegular()
	case corev1.HostPathSocket:
		ok = fi.Mode()&os.ModeSocket != 0
	case corev1.HostPathCharDev:
		ok = fi.Mode()&os.ModeCharDevice != 0
	case corev1.HostPathBlockDev:
		ok = fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0
	default:
		return "", &configError{fmt.Sprintf("hostPath type %q is unknown", typ)}
	}
	if !ok {
		return "", &configError{fmt.Sprintf("hostPath type check failed: %s is not a %s", p, typ)}
	}
	return p, nil
}

// checkProtected refuses p when it is, contains or lies inside one of the
// protected paths (the agent's state, the NATS data).
func checkProtected(p string, protected []string) error {
	for _, q := range protected {
		if q == "" {
			continue
		}
		if within(p, q) || within(q, p) {
			return &configError{fmt.Sprintf("hostPath %s is refused: it overlaps %s, which wake keeps out of containers", p, q)}
		}
	}
	return nil
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// protected are the agent's state directory and the configured extra
// paths, with symlinks resolved.
func (a *Agent) protected() []string {
	out := []string{a.cfg.StateDir}
	out = append(out, a.cfg.ProtectedPaths...)
	for i, p := range out {
		if abs, err := filepath.Abs(p); err == nil {
			out[i] = abs
		}
		if real, err := filepath.EvalSymlinks(out[i]); err == nil {
			out[i] = real
		}
	}
	return out
}

// volumeMounts are the container's bind mounts: its volumeMounts, then
// /etc/hosts and /etc/resolv.conf unless it mounts its own.
func volumeMounts(c *corev1.Container, vols map[string]string, podDir string, secretOrCM map[string]bool) ([]runtime.Mount, error) {
	var out []runtime.Mount
	for _, m := range c.VolumeMounts {
		src, ok := vols[m.Name]
		if !ok {
			return nil, &configError{fmt.Sprintf("volumeMount %q names no volume of the pod", m.Name)}
		}
		if m.SubPath != "" {
			sub := filepath.Clean(m.SubPath)
			if filepath.IsAbs(sub) || sub == ".." || strings.HasPrefix(sub, "../") {
				return nil, &configError{fmt.Sprintf("subPath %q must be relative and stay inside the volume", m.SubPath)}
			}
			src = filepath.Join(src, sub)
			if real, err := filepath.EvalSymlinks(src); err != nil || !within(real, vols[m.Name]) {
				if err != nil {
					if err := os.MkdirAll(src, 0o755); err != nil {
						return nil, err
					}
				} else {
					return nil, &configError{fmt.Sprintf("subPath %q leaves its volume", m.SubPath)}
				}
			}
		}
		out = append(out, runtime.Mount{Source: src, Destination: m.MountPath, ReadOnly: m.ReadOnly || secretOrCM[m.Name]})
	}
	for _, f := range []string{"hosts", "resolv.conf"} {
		dst := "/etc/" + f
		if !slices.ContainsFunc(out, func(m runtime.Mount) bool { return filepath.Clean(m.Destination) == dst }) {
			out = append(out, runtime.Mount{Source: filepath.Join(podDir, f), Destination: dst})
		}
	}
	return out, nil
}

// teardownVolumes unmounts the pod's tmpfs volumes and removes them.
func teardownVolumes(podDir string) error {
	dir := filepath.Join(podDir, "volumes")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var errs []error
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	if len(errs) == 0 {
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}

// writeEtcFiles writes the pod's /etc/hosts and /etc/resolv.conf (see
// podResolvConf in dns.go).
func writeEtcFiles(podDir string, pod *corev1.Pod, ip string, dns clusterResolver) error {
	hosts := "# Kubernetes-managed hosts file (wake).\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n"
	name := podHostname(pod)
	if ip != "" {
		fqdn := ""
		if pod.Spec.Subdomain != "" {
			fqdn = fmt.Sprintf("%s.%s.%s.svc.%s\t", name, pod.Spec.Subdomain, pod.Namespace, dns.Domain)
		}
		hosts += fmt.Sprintf("%s\t%s%s\n", ip, fqdn, name)
	}
	for _, h := range pod.Spec.HostAliases {
		hosts += h.IP + "\t" + strings.Join(h.Hostnames, "\t") + "\n"
	}
	if pod.Spec.HostNetwork {
		// On the node's network the pod sees the node's hosts file, as
		// with the kubelet.
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	if err := os.WriteFile(filepath.Join(podDir, "hosts"), []byte(hosts), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(podDir, "resolv.conf"), podResolvConf(pod, dns).Bytes(), 0o644)
}

// podHostname is the pod's hostname: spec.hostname or the pod's name,
// truncated to 63 bytes.
func podHostname(pod *corev1.Pod) string {
	h := pod.Name
	if pod.Spec.Hostname != "" {
		h = pod.Spec.Hostname
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}
