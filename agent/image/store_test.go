package image

import (
	"archive/tar"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"

	ti "github.com/wakehq/wake/internal/testimage"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                         "index.docker.io/library/nginx:latest",
		"nginx:1.27":                    "index.docker.io/library/nginx:1.27",
		"docker.io/bitnami/redis":       "index.docker.io/bitnami/redis:latest",
		"ghcr.io/wakehq/wake:v1":        "ghcr.io/wakehq/wake:v1",
		"localhost:5000/app":            "localhost:5000/app:latest",
		"quay.io/x/y@sha256:" + hex64(): "quay.io/x/y@sha256:" + hex64(),
	} {
		if got, err := Normalize(in); err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Normalize("UPPER/case"); err == nil {
		t.Error("Normalize accepted an invalid reference")
	}
}

func hex64() string { return strings.Repeat("ab", 32) }

func TestPullStoresImageOnce(t *testing.T) {
	ti.RequireRoot(t)
	host := ti.Registry(t)
	ref := ti.Push(t, host, "wake/tool:v1", ti.Image(t))
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	im, err := s.Pull(t.Context(), ref, nil, []string{host})
	if err != nil {
		t.Fatal(err)
	}
	if got := im.Config.Entrypoint; len(got) != 1 || got[0] != "/bin/tool" || im.Config.WorkingDir != "/tmp" {
		t.Errorf("config = %+v", im.Config)
	}
	if len(im.Refs) != 1 || im.Refs[0] != host+"/wake/tool:v1" || !strings.HasPrefix(im.ID, "sha256:") {
		t.Errorf("image = %+v", im)
	}
	dirs := s.LayerDirs(im)
	if fi, err := os.Stat(filepath.Join(dirs[0], "bin/tool")); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("bin/tool in layer: %v", err)
	}
	// Unpacked once: a second pull (another tag, same content) reuses the directory.
	before, _ := os.Stat(dirs[0])
	ref2 := ti.Push(t, host, "wake/tool:v2", ti.Image(t))
	im2, err := s.Pull(t.Context(), ref2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(s.LayerDirs(im2)[0])
	if im2.ID != im.ID || !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("the same layer was unpacked twice")
	}
	if list := s.List(); len(list) != 1 || len(list[0].Refs) != 2 {
		t.Errorf("List = %+v, want one image with two refs", list)
	}
	// A reopened store knows the image.
	s2, err := Open(s.root)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get(ref2); err != nil || got.ID != im.ID {
		t.Errorf("Get after reopen: %v, %v", got, err)
	}
	if _, err := s2.Get("nginx"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(nginx) = %v, want ErrNotFound", err)
	}
}

func TestPullErrorsKeepRegistryReason(t *testing.T) {
	host := ti.Registry(t)
	ti.Push(t, host, "wake/empty:v1", empty.Image)
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref, reason string
		retryable   bool
	}{
		{host + "/no/such:tag", "NAME_UNKNOWN", false},
		{host + "/wake/empty:v2", "MANIFEST_UNKNOWN", false},
		{"Bad//ref", "invalid reference", false},
		{"127.0.0.1:1/closed:port", "connection refused", true},
	}
	for _, tt := range tests {
		_, err := s.Pull(t.Context(), tt.ref, nil, nil)
		var pe *PullError
		if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tt.reason) || pe.Retryable != tt.retryable {
			t.Errorf("Pull(%q) = %v (%+v); want reason containing %q, retryable %v", tt.ref, err, pe, tt.reason, tt.retryable)
		}
	}
}

// TestWhiteoutsHideLowerLayers mounts two unpacked layers with overlayfs,
// the way the runtime does, and checks what a container would see.
func TestWhiteoutsHideLowerLayers(t *testing.T) {
	ti.RequireRoot(t)
	lower := ti.Layer(t,
		ti.File{Name: "a/x", Body: []byte("x")}, ti.File{Name: "a/y", Body: []byte("y")},
		ti.File{Name: "b/z", Body: []byte("z")})
	upper := ti.Layer(t,
		ti.File{Name: "a/.wh.x"}, ti.File{Name: "b/.wh..wh..opq"}, ti.File{Name: "b/new", Body: []byte("n")})
	img, err := mutate.AppendLayers(empty.Image, lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	im, err := s.add("example.com/whiteouts:v1", img)
	if err != nil {
		t.Fatal(err)
	}
	dirs := s.LayerDirs(im)
	mnt := t.TempDir()
	if err := unix.Mount("overlay", mnt, "overlay", unix.MS_RDONLY, "lowerdir="+dirs[1]+":"+dirs[0]); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	for p, want := range map[string]bool{"a/x": false, "a/y": true, "b/z": false, "b/new": true} {
		if _, err := os.Stat(filepath.Join(mnt, p)); (err == nil) != want {
			t.Errorf("%s visible = %v, want %v", p, err == nil, want)
		}
	}
}

func TestImportDockerArchiveAndOCILayout(t *testing.T) {
	ti.RequireRoot(t)
	img := ti.Image(t)
	dir := t.TempDir()

	archive := filepath.Join(dir, "docker.tar")
	tag, _ := name.NewTag("example.com/team/app:v1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	ociDir := filepath.Join(dir, "oci")
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "example.com/team/app:oci"})); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(dir, "oci.tar")
	if out, err := exec.Command("tar", "-C", ociDir, "-cf", ociTar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	wantID, _ := img.ConfigName()

	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for file, ref := range map[string]string{archive: "example.com/team/app:v1", ociTar: "example.com/team/app:oci"} {
		ims, err := s.Import(file)
		if err != nil {
			t.Fatalf("Import(%s): %v", filepath.Base(file), err)
		}
		if len(ims) != 1 || ims[0].ID != wantID.String() {
			t.Fatalf("Import(%s) = %+v, want ID %s", filepath.Base(file), ims, wantID)
		}
		if got, err := s.Get(ref); err != nil || got.Config.Entrypoint[0] != "/bin/tool" {
			t.Errorf("Get(%s) = %+v, %v", ref, got, err)
		}
	}

	bogus := filepath.Join(dir, "bogus.tar")
	os.WriteFile(bogus, ti.TarBytes(t, ti.File{Name: "hello", Body: []byte("x")}), 0o644)
	if _, err := s.Import(bogus); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("Import(bogus) = %v", err)
	}
	evil := filepath.Join(dir, "evil.tar")
	os.WriteFile(evil, ti.TarBytes(t, ti.File{Name: "oci-layout", Body: []byte("{}")}, ti.File{Name: "index.json", Body: []byte("{}")},
		ti.File{Name: "blobs/x", Type: tar.TypeSymlink, Linkname: "/etc"}), 0o644)
	if _, err := s.Import(evil); err == nil {
		t.Error("Import accepted a symlink in an OCI layout")
	}
}
