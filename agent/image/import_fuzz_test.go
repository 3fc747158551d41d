package image

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"

	ti "github.com/wakehq/wake/internal/testimage"
)

// FuzzImport feeds Import arbitrary tarballs: it may refuse them, but
// must not panic, and a refused import records nothing and leaves nothing
// in the store's tmp directory.
func FuzzImport(f *testing.F) {
	f.Add([]byte("not a tar"))
	f.Add(ti.TarBytes(f, ti.File{Name: "manifest.json", Body: []byte(`[{"Config":"c.json","RepoTags":["x:v1"],"Layers":["l.tar"]}]`)},
		ti.File{Name: "c.json", Body: []byte(`{"rootfs":{"type":"layers","diff_ids":[]}}`)}))
	f.Add(ti.TarBytes(f, ti.File{Name: "oci-layout", Body: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		ti.File{Name: "index.json", Body: []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:00","size":1}]}`)}))
	f.Add(ti.TarBytes(f, ti.File{Name: "oci-layout", Body: []byte("{}")}, ti.File{Name: "index.json", Body: []byte("{}")},
		ti.File{Name: "blobs/x", Type: tar.TypeSymlink, Linkname: "/etc"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		s, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "in.tar")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Import(file); err == nil {
			return
		}
		if list := s.List(); len(list) != 0 {
			t.Fatalf("a refused import recorded %+v", list)
		}
		if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
			t.Fatalf("a refused import left %v in tmp", ents)
		}
	})
}
