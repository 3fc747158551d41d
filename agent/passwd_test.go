package agent

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func writeLayer(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if body == "<whiteout>" {
			if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil {
				t.Skipf("whiteouts need mknod (root): %v", err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestImageUser(t *testing.T) {
	base := writeLayer(t, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\n",
		"etc/group":  "root:x:0:\nnginx:x:101:\nstaff:x:50:\n",
	})
	top := writeLayer(t, map[string]string{"etc/passwd": "root:x:0:0::/:/bin/sh\napp:x:1000:1001::/app:/bin/sh\n"})
	for _, tt := range []struct {
		layers   []string
		spec     string
		uid, gid uint32
		bad      bool
	}{
		{[]string{base}, "nginx", 101, 101, false},
		{[]string{base}, "101", 101, 101, false}, // numeric: primary group from passwd
		{[]string{base}, "4242", 4242, 0, false}, // not in passwd: allowed, group 0
		{[]string{base}, "nginx:staff", 101, 50, false},
		{[]string{base}, "nginx:77", 101, 77, false},
		{[]string{base}, "nobody", 0, 0, true},
		{[]string{base}, "nginx:nogroup", 0, 0, true},
		{[]string{base, top}, "app", 1000, 1001, false}, // the top layer's passwd wins
		{[]string{base, top}, "nginx", 0, 0, true},
	} {
		uid, gid, err := imageUser(tt.layers, tt.spec)
		var ce *configError
		if tt.bad {
			if !errors.As(err, &ce) {
				t.Errorf("%q: %v, want a config error", tt.spec, err)
			}
			continue
		}
		if err != nil || uid != tt.uid || gid != tt.gid {
			t.Errorf("%q: %d:%d %v, want %d:%d", tt.spec, uid, gid, err, tt.uid, tt.gid)
		}
	}
	// A whiteout above hides the file: names no longer resolve.
	hidden := writeLayer(t, map[string]string{"etc/passwd": "<whiteout>"})
	if _, _, err := imageUser([]string{base, hidden}, "nginx"); err == nil {
		t.Error("a whited-out passwd still resolved a name")
	}
}
