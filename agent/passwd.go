package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// imageFile reads a file of the image (name relative to its root, such as
// "etc/passwd") as the container's overlay would show it: from the top-most
// layer that has it, unless a whiteout or an opaque directory above hides
// it. Symbolic links are not followed (false).
func imageFile(layers []string, name string) ([]byte, bool) {
	for i := len(layers) - 1; i >= 0; i-- {
		root, err := os.OpenRoot(layers[i])
		if err != nil {
			continue
		}
		fi, err := root.Lstat(name)
		switch {
		case err == nil && fi.Mode().IsRegular():
			b, err := root.ReadFile(name)
			root.Close()
			return b, err == nil
		case err == nil && fi.Mode()&fs.ModeCharDevice != 0: // a whiteout
			root.Close()
			return nil, false
		case err == nil:
			root.Close()
			return nil, false // a directory or a link where the file would be
		}
		opaque := false
		for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
			if f, err := root.Open(d); err == nil {
				buf := make([]byte, 1)
				if n, err := unix.Fgetxattr(int(f.Fd()), "trusted.overlay.opaque", buf); err == nil && n == 1 && buf[0] == 'y' {
					opaque = true
				}
				f.Close()
			}
		}
		root.Close()
		if opaque {
			return nil, false
		}
	}
	return nil, false
}

// passwdEntry is one line of /etc/passwd or /etc/group: name, id and (for
// passwd) the primary group.
type passwdEntry struct {
	name    string
	id, gid uint32
}

func parseIDFile(b []byte, withGID bool) []passwdEntry {
	var out []passwdEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		e := passwdEntry{name: f[0], id: uint32(id)}
		if withGID && len(f) > 3 {
			if g, err := strconv.ParseUint(f[3], 10, 32); err == nil {
				e.gid = uint32(g)
			}
		}
		out = append(out, e)
	}
	return out
}

// imageUser resolves an image's USER ("name", "uid", "name:group",
// "uid:gid", …) against its /etc/passwd and /etc/group as Docker and runc
// do: a name must exist; a numeric user need not (then its group is 0
// unless given); without a group, the user's primary group.
func imageUser(layers []string, spec string) (uid, gid uint32, err error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	passwdFile, _ := imageFile(layers, "etc/passwd")
	users := parseIDFile(passwdFile, true)
	if n, err := strconv.ParseUint(u, 10, 32); err == nil {
		uid = uint32(n)
		for _, e := range users {
			if e.id == uid {
				gid = e.gid
				break
			}
		}
	} else {
		found := false
		for _, e := range users {
			if e.name == u {
				uid, gid, found = e.id, e.gid, true
				break
			}
		}
		if !found {
			return 0, 0, &configError{fmt.Sprintf("unable to find user %s: no matching entries in passwd file", u)}
		}
	}
	if !hasGroup {
		return uid, gid, nil
	}
	if n, err := strconv.ParseUint(g, 10, 32); err == nil {
		return uid, uint32(n), nil
	}
	groupFile, _ := imageFile(layers, "etc/group")
	for _, e := range parseIDFile(groupFile, false) {
		if e.name == g {
			return uid, e.id, nil
		}
	}
	return 0, 0, &configError{fmt.Sprintf("unable to find group %s: no matching entries in group file", g)}
}
