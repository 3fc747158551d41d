package image

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// GCPolicy is when image garbage collection runs and how far it goes, as
// the kubelet's imageGCHighThresholdPercent, imageGCLowThresholdPercent
// and imageMinimumGCAge.
type GCPolicy struct {
	// HighPercent of the file system used starts a collection (default
	// 85); it frees images until LowPercent is used (default 80).
	HighPercent, LowPercent int
	// MinAge: an image added or used more recently is kept (default 2m).
	MinAge time.Duration
	// Period is how often the agent looks (default 5m).
	Period time.Duration
}

// WithDefaults fills the zero fields.
func (p GCPolicy) WithDefaults() GCPolicy {
	if p.HighPercent <= 0 {
		p.HighPercent = 85
	}
	if p.LowPercent <= 0 || p.LowPercent > p.HighPercent {
		p.LowPercent = min(80, p.HighPercent)
	}
	if p.MinAge <= 0 {
		p.MinAge = 2 * time.Minute
	}
	if p.Period <= 0 {
		p.Period = 5 * time.Minute
	}
	return p
}

// GCTarget is how many bytes a collection must free for a file system of
// size bytes with used bytes in use: none below the high threshold, else
// down to the low one.
func (p GCPolicy) GCTarget(used, size int64) int64 {
	p = p.WithDefaults()
	if size <= 0 || used*100 < int64(p.HighPercent)*size {
		return 0
	}
	return used - int64(p.LowPercent)*size/100
}

// GC removes images for which inUse is false, least recently added or
// used first (never one younger than minAge at now), until at least
// bytesToFree bytes of layers and blobs are gone or nothing more may go.
// It returns the images removed and the bytes freed.
func (s *Store) GC(bytesToFree int64, inUse func(Image) bool, minAge time.Duration, now time.Time) ([]Image, int64, error) {
	s.gc.Lock()
	defer s.gc.Unlock()
	type candidate struct {
		im   Image
		last time.Time
	}
	var cands []candidate
	for _, im := range s.List() {
		s.mu.Lock()
		last := im.Added
		if u := s.lastUsed[im.ID]; u.After(last) {
			last = u
		}
		s.mu.Unlock()
		if now.Sub(last) < minAge || inUse(im) {
			continue
		}
		cands = append(cands, candidate{im, last})
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(a.last.Compare(b.last), cmp.Compare(a.im.ID, b.im.ID))
	})
	var removed []Image
	var freed int64
	var errs []error
	for _, c := range cands {
		if freed >= bytesToFree {
			break
		}
		n, err := s.removeLocked(c.im.ID)
		freed += n
		if err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, c.im)
	}
	return removed, freed, errors.Join(errs...)
}

// Remove deletes image id (its ID, not a reference) with its layers and
// blobs that no other image uses, and returns the bytes freed.
func (s *Store) Remove(id string) (int64, error) {
	s.gc.Lock()
	defer s.gc.Unlock()
	return s.removeLocked(id)
}

// removeLocked is Remove with s.gc held: first the index entry (so that a
// crash leaves at worst unreferenced files, never an image whose layers
// are gone), then the files nothing else refers to.
func (s *Store) removeLocked(id string) (int64, error) {
	s.mu.Lock()
	im, ok := s.images[id]
	if !ok {
		s.mu.Unlock()
		return 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	delete(s.images, id)
	delete(s.lastUsed, id)
	if err := s.writeIndex(); err != nil {
		s.images[id] = im
		s.mu.Unlock()
		return 0, err
	}
	usedLayers, usedBlobs := map[string]bool{}, map[string]bool{}
	for _, other := range s.images {
		for _, l := range other.Layers {
			usedLayers[l] = true
		}
		usedBlobs[other.ID], usedBlobs[other.Digest] = true, true
	}
	s.mu.Unlock()
	var freed int64
	var errs []error
	for _, l := range im.Layers {
		if usedLayers[l] {
			continue
		}
		usedLayers[l] = true // an image may list a layer twice
		dir := s.LayerDir(l)
		n := dirSize(dir)
		// Renamed first: a half-removed layer never stays under its name.
		trash, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "gc-")
		if err == nil {
			if err = os.Rename(dir, filepath.Join(trash, "layer")); err == nil || errors.Is(err, os.ErrNotExist) {
				err = os.RemoveAll(trash)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("layer %s: %w", l, err))
			continue
		}
		freed += n
	}
	for _, d := range []string{im.ID, im.Digest} {
		if usedBlobs[d] {
			continue
		}
		p := filepath.Join(s.root, "blobs", digestPath(d))
		if fi, err := os.Stat(p); err == nil {
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
				continue
			}
			freed += fi.Size()
		}
	}
	return freed, errors.Join(errs...)
}
