package libct

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// mountRootfs stacks layers (bottom first) under a writable upper directory
// in dir: dir/rootfs is the container's root.
func mountRootfs(dir string, layers []string) (string, error) {
	rootfs, upper, work := filepath.Join(dir, "rootfs"), filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{rootfs, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	lower := slices.Clone(layers)
	slices.Reverse(lower) // overlayfs lists the top-most lower directory first
	if len(lower) == 0 {
		empty := filepath.Join(dir, "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return "", err
		}
		lower = []string{empty}
	}
	for _, l := range lower {
		if strings.ContainsAny(l, ":,") {
			return "", fmt.Errorf("layer path %q contains ':' or ','", l)
		}
	}
	opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + upper + ",workdir=" + work
	// The option string is limited to a page; deep images need shorter
	// layer paths (or mounting with fsconfig), which wake does not do yet.
	if len(opts) >= os.Getpagesize()-1 {
		return "", fmt.Errorf("overlay options are %d bytes, too many layers for one mount", len(opts))
	}
	if err := unix.Mount("overlay", rootfs, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mount overlay rootfs: %w", err)
	}
	return rootfs, nil
}

// removeRootfs unmounts the container's rootfs (if mounted) and removes dir.
func removeRootfs(dir string) error {
	rootfs := filepath.Join(dir, "rootfs")
	if err := unix.Unmount(rootfs, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", rootfs, err)
	}
	return os.RemoveAll(dir)
}
