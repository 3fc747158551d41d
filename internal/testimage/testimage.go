// Package testimage builds the images wake's agent tests run: a static Go
// program (./tool) packaged as an OCI image, served from an in-process
// registry. Nothing here reaches the network.
package testimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var (
	buildOnce sync.Once
	toolPath  string
	buildErr  error
)

// Tool builds ./tool statically (once per test process; reused across runs
// through a cache keyed by its source) and returns the binary's path.
func Tool(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { toolPath, buildErr = build() })
	if buildErr != nil {
		t.Fatalf("building the test tool: %v", buildErr)
	}
	return toolPath
}

func build() (string, error) {
	_, self, _, _ := goruntime.Caller(0)
	src := filepath.Join(filepath.Dir(self), "tool")
	b, err := os.ReadFile(filepath.Join(src, "main.go"))
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	out := filepath.Join(os.TempDir(), "wake-testtool-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	tmp := out + fmt.Sprintf(".%d", os.Getpid())
	cmd := exec.Command(filepath.Join(goruntime.GOROOT(), "bin", "go"), "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return out, os.Rename(tmp, out)
}

// File is one entry of a test layer.
type File struct {
	Name     string
	Mode     int64
	Body     []byte
	Type     byte   // tar.TypeReg when zero
	Linkname string // symlinks and hard links
	Xattrs   map[string]string
}

// Layer packs files into a tar layer.
func Layer(t testing.TB, files ...File) v1.Layer {
	t.Helper()
	b := TarBytes(t, files...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TarBytes writes files as an uncompressed tar.
func TarBytes(t testing.TB, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.Name, Mode: f.Mode, Typeflag: f.Type, Linkname: f.Linkname, Size: int64(len(f.Body)), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		for k, v := range f.Xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(f.Body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Image is the standard test image: /bin/tool, an /etc/passwd with root
// and nobody, /tmp; ENTRYPOINT ["/bin/tool"], CMD ["serve", ":8080"].
func Image(t testing.TB) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(Tool(t))
	if err != nil {
		t.Fatal(err)
	}
	base := Layer(t,
		File{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
		File{Name: "bin/tool", Mode: 0o755, Body: bin},
		File{Name: "etc/", Type: tar.TypeDir, Mode: 0o755},
		File{Name: "etc/passwd", Mode: 0o644, Body: []byte("root:x:0:0:root:/root:/bin/tool\nnobody:x:65534:65534:nobody:/nonexistent:/bin/tool\n")},
		File{Name: "etc/group", Mode: 0o644, Body: []byte("root:x:0:\nnogroup:x:65534:\n")},
		File{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
	)
	img, err := mutate.AppendLayers(empty.Image, base)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config = v1.Config{
		Entrypoint: []string{"/bin/tool"},
		Cmd:        []string{"serve", ":8080"},
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "WAKE_TEST=1"},
		WorkingDir: "/tmp",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// Registry starts an in-process OCI distribution registry for the test and
// returns its host:port.
func Registry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// Push uploads img to host/repo and returns the reference.
func Push(t testing.TB, host, repo string, img v1.Image) string {
	t.Helper()
	ref := host + "/" + repo
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// RequireRoot skips the test unless it runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (mknod for overlay whiteouts, mounts, namespaces, cgroups): run the tests as root to exercise this")
	}
}

// RegistryAt is Registry listening on addr (host:port; port 0 picks one),
// for clients that cannot reach this process's loopback, such as agents in
// network namespaces of their own. It returns the registry's host:port.
func RegistryAt(t testing.TB, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return ln.Addr().String()
}
