package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Unpack extracts an uncompressed layer tar into dir, which must exist and
// be empty. Every entry goes through ValidateEntry and is written through an
// os.Root on dir, so even a symlink planted by an earlier entry cannot
// redirect a later write outside dir.
func Unpack(r io.Reader, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading layer: %w", err)
		}
		e, err := ValidateEntry(h)
		if err != nil {
			return err
		}
		if err := unpackEntry(root, e, h, tr); err != nil {
			return fmt.Errorf("tar entry %q: %w", h.Name, err)
		}
	}
}

func unpackEntry(root *os.Root, e Entry, h *tar.Header, r io.Reader) error {
	if e.Kind == EntrySkip {
		return nil
	}
	if e.Name != "." {
		if err := root.MkdirAll(path.Dir(e.Name), 0o755); err != nil {
			return err
		}
	}
	switch e.Kind {
	case EntryDir:
		if e.Name != "." {
			if err := root.Mkdir(e.Name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			if fi, err := root.Lstat(e.Name); err != nil || !fi.IsDir() {
				return fmt.Errorf("not a directory")
			}
		}
		return setMeta(root, e.Name, h)
	case EntryFile:
		if err := removeExisting(root, e.Name); err != nil {
			return err
		}
		f, err := root.OpenFile(e.Name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if err == nil {
			err = setXattrs(int(f.Fd()), h)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		return setMeta(root, e.Name, h)
	case EntrySymlink:
		if err := removeExisting(root, e.Name); err != nil {
			return err
		}
		if err := root.Symlink(e.Link, e.Name); err != nil {
			return err
		}
		return root.Lchown(e.Name, h.Uid, h.Gid)
	case EntryHardlink:
		if fi, err := root.Lstat(e.Link); err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("hard link target %q is not a regular file of this layer", e.Link)
		}
		if err := removeExisting(root, e.Name); err != nil {
			return err
		}
		return root.Link(e.Link, e.Name)
	case EntryWhiteout:
		if err := removeExisting(root, e.Name); err != nil {
			return err
		}
		return inDir(root, path.Dir(e.Name), func(fd int) error {
			return unix.Mknodat(fd, path.Base(e.Name), unix.S_IFCHR, 0)
		})
	case EntryOpaque:
		if err := root.MkdirAll(e.Name, 0o755); err != nil {
			return err
		}
		return inDir(root, e.Name, func(fd int) error {
			return unix.Fsetxattr(fd, "trusted.overlay.opaque", []byte("y"), 0)
		})
	}
	return fmt.Errorf("unknown entry kind %d", e.Kind)
}

// removeExisting makes room for an entry that replaces an earlier one of the
// same layer (tar semantics: the last entry wins). Directories are kept
// only when the new entry is also a directory, which the caller handles.
func removeExisting(root *os.Root, name string) error {
	err := root.RemoveAll(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// inDir runs fn with a file descriptor for directory name, resolved inside
// root, for the few operations os.Root does not offer (mknod, xattrs).
func inDir(root *os.Root, name string, fn func(fd int) error) error {
	d, err := root.Open(name)
	if err != nil {
		return err
	}
	defer d.Close()
	if fi, err := d.Stat(); err != nil || !fi.IsDir() {
		return fmt.Errorf("%q is not a directory", name)
	}
	return fn(int(d.Fd()))
}

func setMeta(root *os.Root, name string, h *tar.Header) error {
	if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
		return err
	}
	// After chown: chown clears the setuid and setgid bits.
	mode := h.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if err := root.Chmod(name, mode); err != nil {
		return err
	}
	if h.Typeflag == tar.TypeDir && hasXattrs(h) {
		if err := inDir(root, name, func(fd int) error { return setXattrs(fd, h) }); err != nil {
			return err
		}
	}
	return root.Chtimes(name, h.ModTime, h.ModTime)
}

func hasXattrs(h *tar.Header) bool {
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			return true
		}
	}
	return false
}

// setXattrs applies the xattrs ValidateEntry allowed.
func setXattrs(fd int, h *tar.Header) error {
	for k, v := range h.PAXRecords {
		if x, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && allowedXattr(x) {
			if err := unix.Fsetxattr(fd, x, []byte(v), 0); err != nil {
				return fmt.Errorf("xattr %s: %w", x, err)
			}
		}
	}
	return nil
}
