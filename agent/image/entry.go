package image

import (
	"archive/tar"
	"fmt"
	"path"
	"strings"
)

// EntryKind is what unpacking does with one tar entry after validation.
type EntryKind int

const (
	EntryFile     EntryKind = iota // regular file
	EntryDir                       // directory
	EntrySymlink                   // symbolic link (target kept as is; never followed while unpacking)
	EntryHardlink                  // hard link to an earlier entry of the same layer
	EntryWhiteout                  // OCI whiteout: remove Name from lower layers
	EntryOpaque                    // OCI opaque marker: hide the lower contents of directory Name
	EntrySkip                      // device node or FIFO: never created (a container gets its own /dev)
)

// Entry is a validated tar entry: Name (and Link for hard links) are clean,
// relative, and local to the layer root.
type Entry struct {
	Kind EntryKind
	Name string
	Link string // hard link target (EntryHardlink) or symlink target (EntrySymlink)
}

const whiteoutPrefix = ".wh."
const opaqueMarker = ".wh..wh..opq"

// ValidateEntry decides whether a layer tar entry is safe to unpack. It is a
// pure function so that it can be fuzzed; unpacking relies on it together
// with os.Root (which stops symlinks from leading outside the layer).
func ValidateEntry(h *tar.Header) (Entry, error) {
	name, err := localName(h.Name)
	if err != nil {
		return Entry{}, err
	}
	base, dir := path.Base(name), path.Dir(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
			return Entry{}, fmt.Errorf("tar entry %q: whiteout must be a regular file", h.Name)
		}
		if base == opaqueMarker {
			return Entry{Kind: EntryOpaque, Name: dir}, nil
		}
		target := strings.TrimPrefix(base, whiteoutPrefix)
		if target == "" || target == "." || target == ".." || strings.HasPrefix(target, whiteoutPrefix) {
			return Entry{}, fmt.Errorf("tar entry %q: invalid whiteout", h.Name)
		}
		return Entry{Kind: EntryWhiteout, Name: path.Join(dir, target)}, nil
	}
	if name == "." && h.Typeflag != tar.TypeDir {
		return Entry{}, fmt.Errorf("tar entry %q: the layer root can only be a directory", h.Name)
	}
	for key := range h.PAXRecords {
		if x, ok := strings.CutPrefix(key, "SCHILY.xattr."); ok && !allowedXattr(x) {
			return Entry{}, fmt.Errorf("tar entry %q: xattr %q not allowed", h.Name, x)
		}
	}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		if h.Size < 0 {
			return Entry{}, fmt.Errorf("tar entry %q: negative size", h.Name)
		}
		return Entry{Kind: EntryFile, Name: name}, nil
	case tar.TypeDir:
		return Entry{Kind: EntryDir, Name: name}, nil
	case tar.TypeSymlink:
		if h.Linkname == "" || strings.IndexByte(h.Linkname, 0) >= 0 {
			return Entry{}, fmt.Errorf("tar entry %q: invalid symlink target", h.Name)
		}
		return Entry{Kind: EntrySymlink, Name: name, Link: h.Linkname}, nil
	case tar.TypeLink:
		link, err := localName(h.Linkname)
		if err != nil || link == "." {
			return Entry{}, fmt.Errorf("tar entry %q: hard link target %q outside the layer", h.Name, h.Linkname)
		}
		return Entry{Kind: EntryHardlink, Name: name, Link: link}, nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		// Skipped rather than refused: some old images carry /dev entries,
		// and a layer must never be able to plant a host device node.
		return Entry{Kind: EntrySkip, Name: name}, nil
	default:
		return Entry{}, fmt.Errorf("tar entry %q: unsupported type %q", h.Name, h.Typeflag)
	}
}

// localName cleans a tar path and refuses any that would leave the layer
// root. Leading "/" and "./" are accepted (both appear in real images) and
// mean the layer root; ".." components are refused outright rather than
// clamped, because a layer that contains them was not made by a sane tool.
func localName(name string) (string, error) {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("tar entry %q: empty name or NUL byte", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("tar entry %q: \"..\" not allowed", name)
		}
	}
	clean := path.Clean("/" + name)
	if clean == "/" {
		return ".", nil
	}
	return clean[1:], nil
}

// allowedXattr lists the extended attributes a layer may carry. Anything in
// the trusted namespace could forge overlayfs metadata (opaque, redirect,
// metacopy) and is refused; security.capability (file capabilities, e.g.
// ping) and user.* are kept.
func allowedXattr(name string) bool {
	return name == "security.capability" || strings.HasPrefix(name, "user.")
}
