package image

import (
	"archive/tar"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateEntry(t *testing.T) {
	tests := []struct {
		name    string
		h       tar.Header
		want    Entry
		wantErr string
	}{
		{"file", tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg}, Entry{Kind: EntryFile, Name: "etc/passwd"}, ""},
		{"leading dot slash", tar.Header{Name: "./bin/sh", Typeflag: tar.TypeReg}, Entry{Kind: EntryFile, Name: "bin/sh"}, ""},
		{"absolute means layer root", tar.Header{Name: "/etc/hosts", Typeflag: tar.TypeReg}, Entry{Kind: EntryFile, Name: "etc/hosts"}, ""},
		{"root dir", tar.Header{Name: "./", Typeflag: tar.TypeDir}, Entry{Kind: EntryDir, Name: "."}, ""},
		{"dotdot", tar.Header{Name: "../etc/passwd", Typeflag: tar.TypeReg}, Entry{}, `".." not allowed`},
		{"inner dotdot", tar.Header{Name: "a/../../b", Typeflag: tar.TypeReg}, Entry{}, `".." not allowed`},
		{"NUL", tar.Header{Name: "a\x00b", Typeflag: tar.TypeReg}, Entry{}, "NUL"},
		{"root as file", tar.Header{Name: "/", Typeflag: tar.TypeReg}, Entry{}, "layer root"},
		{"symlink absolute target kept", tar.Header{Name: "lib", Typeflag: tar.TypeSymlink, Linkname: "/usr/lib"}, Entry{Kind: EntrySymlink, Name: "lib", Link: "/usr/lib"}, ""},
		{"hardlink", tar.Header{Name: "bin/b", Typeflag: tar.TypeLink, Linkname: "/bin/a"}, Entry{Kind: EntryHardlink, Name: "bin/b", Link: "bin/a"}, ""},
		{"hardlink escape", tar.Header{Name: "b", Typeflag: tar.TypeLink, Linkname: "../../etc/shadow"}, Entry{}, "outside the layer"},
		{"char device skipped", tar.Header{Name: "dev/sda", Typeflag: tar.TypeChar, Devmajor: 8}, Entry{Kind: EntrySkip, Name: "dev/sda"}, ""},
		{"block device skipped", tar.Header{Name: "dev/kmem", Typeflag: tar.TypeBlock}, Entry{Kind: EntrySkip, Name: "dev/kmem"}, ""},
		{"fifo skipped", tar.Header{Name: "run/fifo", Typeflag: tar.TypeFifo}, Entry{Kind: EntrySkip, Name: "run/fifo"}, ""},
		{"whiteout", tar.Header{Name: "etc/.wh.motd", Typeflag: tar.TypeReg}, Entry{Kind: EntryWhiteout, Name: "etc/motd"}, ""},
		{"opaque", tar.Header{Name: "var/cache/.wh..wh..opq", Typeflag: tar.TypeReg}, Entry{Kind: EntryOpaque, Name: "var/cache"}, ""},
		{"whiteout of dotdot", tar.Header{Name: "etc/.wh...", Typeflag: tar.TypeReg}, Entry{}, "invalid whiteout"},
		{"whiteout as symlink", tar.Header{Name: ".wh.x", Typeflag: tar.TypeSymlink, Linkname: "/"}, Entry{}, "regular file"},
		{"overlay xattr refused", tar.Header{Name: "d", Typeflag: tar.TypeDir, PAXRecords: map[string]string{"SCHILY.xattr.trusted.overlay.redirect": "/etc"}}, Entry{}, "not allowed"},
		{"file capability kept", tar.Header{Name: "bin/ping", Typeflag: tar.TypeReg, PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "x"}}, Entry{Kind: EntryFile, Name: "bin/ping"}, ""},
		{"unknown type", tar.Header{Name: "x", Typeflag: 'Z'}, Entry{}, "unsupported type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ValidateEntry(&tt.h)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// FuzzValidateEntry checks the property unpacking relies on: whatever the
// header, an accepted entry names a path inside the layer root, and so does
// a hard link's target.
func FuzzValidateEntry(f *testing.F) {
	for _, s := range []struct {
		name, link string
		typ        byte
	}{
		{"etc/passwd", "", tar.TypeReg}, {"../x", "", tar.TypeReg}, {"/", "", tar.TypeDir},
		{"a/.wh.b", "", tar.TypeReg}, {"a/.wh..wh..opq", "", tar.TypeReg}, {"l", "../../x", tar.TypeLink},
		{"s", "/etc", tar.TypeSymlink}, {".wh....", "", tar.TypeReg}, {"dev/null", "", tar.TypeChar},
	} {
		f.Add(s.name, s.link, s.typ)
	}
	f.Fuzz(func(t *testing.T, name, link string, typ byte) {
		e, err := ValidateEntry(&tar.Header{Name: name, Linkname: link, Typeflag: typ})
		if err != nil {
			return
		}
		local := func(p string) bool { return p == "." || filepath.IsLocal(p) && !strings.Contains(p, "\x00") }
		if !local(e.Name) {
			t.Fatalf("accepted %q (type %q) as non-local %q", name, typ, e.Name)
		}
		if e.Kind == EntryHardlink && (!local(e.Link) || e.Link == ".") {
			t.Fatalf("accepted hard link %q → %q as %q", name, link, e.Link)
		}
		if e.Kind == EntryWhiteout && (e.Name == "." || strings.HasPrefix(filepath.Base(e.Name), whiteoutPrefix)) {
			t.Fatalf("whiteout %q resolves to %q", name, e.Name)
		}
	})
}
