package image

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	ti "github.com/wakehq/wake/internal/testimage"
)

func TestGCTarget(t *testing.T) {
	p := GCPolicy{}
	for _, tt := range []struct{ used, size, want int64 }{
		{84, 100, 0}, {85, 100, 5}, {95, 100, 15}, {10, 0, 0},
	} {
		if got := p.GCTarget(tt.used, tt.size); got != tt.want {
			t.Errorf("GCTarget(%d, %d) = %d, want %d", tt.used, tt.size, got, tt.want)
		}
	}
	if got := (GCPolicy{HighPercent: 50, LowPercent: 20}).GCTarget(60, 100); got != 40 {
		t.Errorf("configured thresholds: %d, want 40", got)
	}
}

// TestGCRemovesUnusedImages: unused images go, oldest first, with the
// layers and blobs only they used; an image in use and the layers it
// shares never go.
func TestGCRemovesUnusedImages(t *testing.T) {
	ti.RequireRoot(t)
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base := ti.Layer(t, ti.File{Name: "shared/base", Body: make([]byte, 4096)})
	mk := func(ref string, extra ...ti.File) *Image {
		t.Helper()
		layers := []v1.Layer{base}
		if len(extra) > 0 {
			layers = append(layers, ti.Layer(t, extra...))
		}
		img, err := mutate.AppendLayers(empty.Image, layers...)
		if err != nil {
			t.Fatal(err)
		}
		im, err := s.add(ref, img)
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	used := mk("example.com/used:v1", ti.File{Name: "used", Body: []byte("u")})
	old := mk("example.com/old:v1", ti.File{Name: "old", Body: make([]byte, 8192)})
	newer := mk("example.com/newer:v1", ti.File{Name: "newer", Body: make([]byte, 8192)})
	// Make the order explicit: old was added first.
	now := time.Now()
	s.mu.Lock()
	s.images[old.ID].Added = now.Add(-time.Hour)
	s.images[newer.ID].Added = now.Add(-30 * time.Minute)
	s.images[used.ID].Added = now.Add(-2 * time.Hour)
	s.mu.Unlock()
	inUse := func(im Image) bool { return im.ID == used.ID }

	// Everything is too young for a 2h minimum age.
	if removed, _, err := s.GC(1<<40, inUse, 2*time.Hour, now); err != nil || len(removed) != 0 {
		t.Fatalf("GC removed %v young images (%v)", removed, err)
	}
	// One byte to free: only the oldest unused image goes.
	removed, freed, err := s.GC(1, inUse, time.Minute, now)
	if err != nil || len(removed) != 1 || removed[0].ID != old.ID || freed < 8192 {
		t.Fatalf("GC(1) = %v, %d, %v; want %s alone", removed, freed, err, old.ID)
	}
	if _, err := os.Stat(s.LayerDir(old.Layers[1])); !os.IsNotExist(err) {
		t.Errorf("the removed image's own layer is still on disk: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "blobs", digestPath(old.Digest))); !os.IsNotExist(err) {
		t.Errorf("the removed image's manifest is still on disk: %v", err)
	}
	// Everything that may go goes; the used image and the shared layer stay.
	removed, _, err = s.GC(1<<40, inUse, time.Minute, now)
	if err != nil || len(removed) != 1 || removed[0].ID != newer.ID {
		t.Fatalf("GC(all) = %v, %v", removed, err)
	}
	for _, d := range s.LayerDirs(used) {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("a layer of the image in use is gone: %v", err)
		}
	}
	s2, err := Open(s.root)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, im := range s2.List() {
		ids = append(ids, im.ID)
	}
	if !slices.Equal(ids, []string{used.ID}) {
		t.Errorf("after GC and reopen: %v, want only %s", ids, used.ID)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.root, "tmp")); len(ents) != 0 {
		t.Errorf("GC left %v in tmp", ents)
	}
	// A recently used image is kept even when old.
	again := mk("example.com/again:v1", ti.File{Name: "again", Body: []byte("a")})
	s.mu.Lock()
	s.images[again.ID].Added = now.Add(-time.Hour)
	s.mu.Unlock()
	if _, err := s.Get("example.com/again:v1"); err != nil {
		t.Fatal(err)
	}
	if removed, _, _ := s.GC(1<<40, inUse, time.Minute, time.Now()); len(removed) != 0 {
		t.Errorf("GC removed a just-used image: %v", removed)
	}
	if _, err := s.Remove("sha256:nope"); err == nil {
		t.Error("Remove of an unknown image succeeded")
	}
}
