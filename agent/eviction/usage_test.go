package eviction

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeBytes(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Repeat("x", n)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDiskUsageWalk(t *testing.T) {
	const mi = 1 << 20
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	writeBytes(t, filepath.Join(tree, "a"), mi)
	writeBytes(t, filepath.Join(tree, "sub", "deeper", "b"), mi)
	// A hard link counts once, wherever it is in the walk.
	if err := os.Link(filepath.Join(tree, "a"), filepath.Join(tree, "sub", "a-again")); err != nil {
		t.Fatal(err)
	}
	// A symlink to a big file (and to a directory) outside is not followed.
	writeBytes(t, filepath.Join(dir, "outside", "big"), 8*mi)
	os.Symlink(filepath.Join(dir, "outside", "big"), filepath.Join(tree, "link"))
	os.Symlink(filepath.Join(dir, "outside"), filepath.Join(tree, "dirlink"))

	got, err := newDiskWalk(t.Context()).du(tree)
	if err != nil {
		t.Fatal(err)
	}
	// Two 1 MiB files, a few directories (a block or so each) and symlinks.
	if got < 2*mi || got > 2*mi+256<<10 {
		t.Errorf("du = %d, want about 2 MiB (hard link once, symlinks not followed)", got)
	}

	// Two roots in one walk share the hard link; two walks each count it.
	other := filepath.Join(dir, "other")
	os.MkdirAll(other, 0o755)
	if err := os.Link(filepath.Join(tree, "a"), filepath.Join(other, "a")); err != nil {
		t.Fatal(err)
	}
	both, _ := newDiskWalk(t.Context()).du(tree, other)
	alone, _ := newDiskWalk(t.Context()).du(other)
	if both-got > 64<<10 || alone < mi {
		t.Errorf("tree+other %d (tree %d), other alone %d: a hard link counts once per walk", both, got, alone)
	}

	// A missing root counts nothing.
	if n, err := newDiskWalk(t.Context()).du(filepath.Join(dir, "absent")); n != 0 || err != nil {
		t.Errorf("absent root: %d, %v", n, err)
	}
}

// Files and directories removed between listing a directory and looking
// at its entries are skipped, not errors.
func TestDiskUsageWalkVanishingFiles(t *testing.T) {
	const mi = 1 << 20
	tree := t.TempDir()
	writeBytes(t, filepath.Join(tree, "stays"), mi)
	writeBytes(t, filepath.Join(tree, "goes"), 4*mi)
	writeBytes(t, filepath.Join(tree, "gone-dir", "f"), 4*mi)
	w := newDiskWalk(t.Context())
	w.onDir = func(dir string) {
		if dir == tree {
			os.Remove(filepath.Join(tree, "goes"))
			os.RemoveAll(filepath.Join(tree, "gone-dir"))
		}
	}
	got, err := w.du(tree)
	if err != nil {
		t.Fatal(err)
	}
	if got < mi || got > 2*mi {
		t.Errorf("du = %d, want about 1 MiB (the vanished files not counted)", got)
	}
}

// A walk stops when its context ends and says so; what it counted is a
// lower bound.
func TestDiskUsageWalkBounded(t *testing.T) {
	tree := t.TempDir()
	for i := range 600 {
		writeBytes(t, filepath.Join(tree, "d", string(rune('a'+i%26))+strings.Repeat("x", i/26)), 10)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := newDiskWalk(ctx).du(tree); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled walk: %v, want context.Canceled", err)
	}
}
