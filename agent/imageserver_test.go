package agent

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/events/natstest"
	ti "github.com/wakehq/wake/internal/testimage"
)

type imageServerHarness struct {
	store  *image.Store
	root   string
	client *ImageClient
	nc     *nats.Conn
}

func newImageServer(t *testing.T, idle time.Duration) *imageServerHarness {
	t.Helper()
	_, nc := natstest.Start(t)
	root := t.TempDir()
	store, err := image.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	srv := &ImageServer{NC: nc, Node: "n1.example", Store: store, Logger: testLogger(), StateDir: root, Idle: idle}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Run(ctx); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	// Wait until the server's subscription is in place.
	c := &ImageClient{NC: nc, Node: "n1.example", Timeout: 5 * time.Second}
	deadline := time.Now().Add(5 * time.Second)
	for _, err := c.List(t.Context()); err != nil; _, err = c.List(t.Context()) {
		if time.Now().After(deadline) {
			t.Fatalf("image server not answering: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &imageServerHarness{store: store, root: root, client: c, nc: nc}
}

func (h *imageServerHarness) importFile(t *testing.T, path string) ([]image.Image, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	return h.client.Import(t.Context(), f, fi.Size(), filepath.Base(path), nil)
}

// checkClean fails if an upload or unpack left anything in the store's tmp.
func (h *imageServerHarness) checkClean(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		ents, _ := os.ReadDir(filepath.Join(h.root, "tmp"))
		if len(ents) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left in the store's tmp: %v", ents)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tarDir packs a directory (an OCI layout) into a tar file.
func tarDir(t *testing.T, dir, out string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		fi, _ := d.Info()
		h, _ := tar.FileInfoHeader(fi, "")
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tw.Write(b)
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = os.WriteFile(out, buf.Bytes(), 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestImageServerImportsAndLists(t *testing.T) {
	ti.RequireRoot(t)
	h := newImageServer(t, 0)
	img := ti.Image(t) // a few MiB: many chunks
	dir := t.TempDir()
	archive := filepath.Join(dir, "app.tar")
	tag, _ := name.NewTag("example.com/team/app:v1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	ims, err := h.importFile(t, archive)
	if err != nil {
		t.Fatal(err)
	}
	wantID, _ := img.ConfigName()
	if len(ims) != 1 || ims[0].ID != wantID.String() || len(ims[0].Refs) != 1 || ims[0].Refs[0] != "example.com/team/app:v1" {
		t.Fatalf("imported %+v", ims)
	}

	ociDir := filepath.Join(dir, "oci")
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	other, err := mutate.AppendLayers(img, ti.Layer(t, ti.File{Name: "etc/motd", Body: []byte("hi")}))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(other, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "example.com/team/other:oci"})); err != nil {
		t.Fatal(err)
	}
	ociTar := filepath.Join(dir, "oci.tar")
	tarDir(t, ociDir, ociTar)
	if ims, err = h.importFile(t, ociTar); err != nil || len(ims) != 1 || ims[0].Refs[0] != "example.com/team/other:oci" {
		t.Fatalf("OCI layout import: %+v, %v", ims, err)
	}

	list, err := h.client.List(t.Context())
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if _, err := h.store.Get("example.com/team/other:oci"); err != nil {
		t.Error(err)
	}
	h.checkClean(t)
}

func TestImageServerRefusesBadUploads(t *testing.T) {
	ti.RequireRoot(t)
	h := newImageServer(t, 300*time.Millisecond)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := make([]byte, 300<<10)
	rand.Read(garbage)

	// A docker archive whose second image has a layer escaping its root:
	// neither image may be recorded.
	good := ti.Image(t)
	evil, err := mutate.AppendLayers(empty.Image, ti.Layer(t, ti.File{Name: "../../etc/evil", Body: []byte("x")}))
	if err != nil {
		t.Fatal(err)
	}
	tagGood, _ := name.NewTag("example.com/good:v1")
	tagEvil, _ := name.NewTag("example.com/evil:v1")
	mixed := filepath.Join(dir, "mixed.tar")
	if err := tarball.MultiRefWriteToFile(mixed, map[name.Reference]v1.Image{tagGood: good, tagEvil: evil}); err != nil {
		t.Fatal(err)
	}
	missingLayer := write("missing-layer.tar", ti.TarBytes(t, ti.File{Name: "manifest.json",
		Body: []byte(`[{"Config":"c.json","RepoTags":["example.com/x:v1"],"Layers":["nope.tar"]}]`)},
		ti.File{Name: "c.json", Body: []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("0", 64) + `"]}}`)}))

	for _, tt := range []struct {
		name, path, want string
	}{
		{"random bytes", write("garbage.tar", garbage), "BadRequest"},
		{"not an image", write("plain.tar", ti.TarBytes(t, ti.File{Name: "hello", Body: []byte("x")})), "neither a docker-archive"},
		{"missing layer", missingLayer, "BadRequest"},
		{"escaping layer", mixed, `".." not allowed`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.importFile(t, tt.path)
			var ie *ImageError
			if !errors.As(err, &ie) || ie.Reason != "BadRequest" || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Import = %v, want a BadRequest with %q", err, tt.want)
			}
		})
	}
	if list := h.store.List(); len(list) != 0 {
		t.Errorf("bad uploads recorded images: %+v", list)
	}

	// Fewer bytes than announced, then silence: dropped after the idle time.
	_, err = h.client.Import(t.Context(), bytes.NewReader([]byte("short")), 100, "short.tar", nil)
	if err == nil || !strings.Contains(err.Error(), "5 bytes received, 100 announced") {
		t.Errorf("short upload: %v", err)
	}
	_, err = h.client.Import(t.Context(), bytes.NewReader(make([]byte, 10)), 5, "long.tar", nil)
	if err == nil || !strings.Contains(err.Error(), "more than the 5 bytes announced") {
		t.Errorf("long upload: %v", err)
	}
	_, err = h.client.Import(t.Context(), bytes.NewReader(nil), 1<<62, "huge.tar", nil)
	if err == nil || !strings.Contains(err.Error(), "RequestEntityTooLarge") {
		t.Errorf("huge upload: %v", err)
	}
	r, err := h.client.ask(t.Context(), ImageRequest{Op: "import", Size: 10, Name: "silent.tar"})
	if err != nil || r.Upload == "" {
		t.Fatalf("start: %+v, %v", r, err)
	}
	time.Sleep(500 * time.Millisecond) // past the idle timeout
	h.checkClean(t)
	if _, err := h.client.ask(t.Context(), ImageRequest{Op: "rm"}); err == nil || !strings.Contains(err.Error(), "unknown image operation") {
		t.Errorf("unknown op: %v", err)
	}
	other := &ImageClient{NC: h.nc, Node: "elsewhere", Timeout: time.Second}
	if _, err := other.List(t.Context()); err == nil || !strings.Contains(err.Error(), `no agent answers for node "elsewhere"`) {
		t.Errorf("List on a node without agent: %v", err)
	}
}
