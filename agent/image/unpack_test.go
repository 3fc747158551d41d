package image

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	ti "github.com/wakehq/wake/internal/testimage"
)

func TestUnpackRefusesEscapes(t *testing.T) {
	ti.RequireRoot(t)
	tests := []struct {
		name    string
		files   []ti.File
		wantErr string
	}{
		{"dotdot", []ti.File{{Name: "../escaped", Body: []byte("x")}}, `".." not allowed`},
		{"write through absolute symlink", []ti.File{
			{Name: "link", Type: tar.TypeSymlink, Linkname: "OUTSIDE"},
			{Name: "link/escaped", Body: []byte("x")},
		}, "escapes"},
		{"write through relative symlink", []ti.File{
			{Name: "a/", Type: tar.TypeDir, Mode: 0o755},
			{Name: "a/up", Type: tar.TypeSymlink, Linkname: "../../../../../../../OUTSIDE"},
			{Name: "a/up/escaped", Body: []byte("x")},
		}, "escapes"},
		{"hard link to a symlink leading out", []ti.File{
			{Name: "s", Type: tar.TypeSymlink, Linkname: "/etc/passwd"},
			{Name: "h", Type: tar.TypeLink, Linkname: "s"},
		}, "not a regular file"},
		{"hard link outside", []ti.File{{Name: "h", Type: tar.TypeLink, Linkname: "../../etc/passwd"}}, "outside the layer"},
		{"opaque through symlink", []ti.File{
			{Name: "d", Type: tar.TypeSymlink, Linkname: "OUTSIDE"},
			{Name: "d/.wh..wh..opq"},
		}, "escapes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outside := t.TempDir()
			layer := t.TempDir()
			for i := range tt.files {
				tt.files[i].Linkname = strings.ReplaceAll(tt.files[i].Linkname, "OUTSIDE", outside)
			}
			err := Unpack(bytes.NewReader(ti.TarBytes(t, tt.files...)), layer)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Fatalf("unpack wrote outside the layer: %v", ents)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(layer), "escaped")); err == nil {
				t.Fatal("unpack wrote next to the layer")
			}
		})
	}
}

func TestUnpackEntries(t *testing.T) {
	ti.RequireRoot(t)
	layer := t.TempDir()
	tarball := ti.TarBytes(t,
		ti.File{Name: "bin/", Type: tar.TypeDir, Mode: 0o755},
		ti.File{Name: "bin/su", Mode: 0o4755, Body: []byte("setuid")},
		ti.File{Name: "bin/ping", Mode: 0o755, Body: []byte("ping"), Xattrs: map[string]string{"user.test": "kept"}},
		ti.File{Name: "bin/sh", Type: tar.TypeLink, Linkname: "bin/su"},
		ti.File{Name: "lib", Type: tar.TypeSymlink, Linkname: "/usr/lib"},
		ti.File{Name: "dev/sda", Type: tar.TypeBlock},
		ti.File{Name: "dev/console", Type: tar.TypeChar},
		ti.File{Name: "deep/implicit/parent", Mode: 0o644, Body: []byte("p")},
		ti.File{Name: "gone/.wh.file"},
		ti.File{Name: "hidden/.wh..wh..opq"},
	)
	if err := Unpack(bytes.NewReader(tarball), layer); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(layer, "bin/su"))
	if err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("bin/su: %v, mode %v; want setuid kept", err, fi.Mode())
	}
	a, _ := os.Stat(filepath.Join(layer, "bin/su"))
	b, _ := os.Stat(filepath.Join(layer, "bin/sh"))
	if !os.SameFile(a, b) {
		t.Error("bin/sh is not a hard link of bin/su")
	}
	if target, _ := os.Readlink(filepath.Join(layer, "lib")); target != "/usr/lib" {
		t.Errorf("lib → %q", target)
	}
	if _, err := os.Lstat(filepath.Join(layer, "dev/sda")); err == nil {
		t.Error("a device node from the layer was created")
	}
	buf := make([]byte, 16)
	if n, err := unix.Getxattr(filepath.Join(layer, "bin/ping"), "user.test", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("user.test xattr: %q, %v", buf[:n], err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(layer, "gone/file"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout: %v, mode %o rdev %d; want a 0/0 char device", err, st.Mode, st.Rdev)
	}
	if n, err := unix.Getxattr(filepath.Join(layer, "hidden"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque xattr: %q, %v", buf[:n], err)
	}
}
