package image

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is one image in the store. ID is the digest of its config file, as
// Docker and the CRI report it; Refs are the normalized references that
// point at it.
type Image struct {
	ID     string    `json:"id"`
	Refs   []string  `json:"refs,omitempty"`
	Digest string    `json:"digest"` // manifest digest ("repo@digest" for imageID in pod status)
	Layers []string  `json:"layers"` // DiffIDs, bottom layer first
	Size   int64     `json:"size"`   // bytes of uncompressed layers
	Config Config    `json:"config"`
	Added  time.Time `json:"added"`
}

// Config is the part of the OCI image config that decides how a container
// runs (Kubernetes' command/args semantics are applied by the agent).
type Config struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
	OS         string   `json:"os,omitempty"`
	Arch       string   `json:"architecture,omitempty"`
}

// ErrNotFound is returned by Get for an image the store does not hold.
var ErrNotFound = errors.New("image not found")

// Store is the content-addressed image store of one node. It is safe for
// concurrent use; the unpacking of one layer happens at most once.
type Store struct {
	root string

	mu       sync.Mutex
	images   map[string]*Image    // by ID
	lastUsed map[string]time.Time // by ID: Get's hits since Open (for GC)
	layers   sync.Map             // DiffID → *sync.Mutex, serialises unpacking per layer

	// gc is held shared from a put to its record (an image whose layers
	// are on disk but not yet in the index) and exclusively by GC, so that
	// GC never removes a layer an image is about to refer to.
	gc sync.RWMutex
}

// Open opens (or creates) the store under root.
func Open(root string) (*Store, error) {
	for _, d := range []string{"blobs/sha256", "layers/sha256", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	// Leftovers of an interrupted unpack are never referenced: drop them.
	tmp := filepath.Join(root, "tmp")
	if ents, err := os.ReadDir(tmp); err == nil {
		for _, e := range ents {
			os.RemoveAll(filepath.Join(tmp, e.Name()))
		}
	}
	s := &Store{root: root, images: map[string]*Image{}, lastUsed: map[string]time.Time{}}
	b, err := os.ReadFile(s.indexPath())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		var idx index
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, fmt.Errorf("image index %s: %w", s.indexPath(), err)
		}
		for _, im := range idx.Images {
			s.images[im.ID] = im
		}
	}
	return s, nil
}

// index is the on-disk format of images.json; Version guards upgrades.
type index struct {
	Version int      `json:"version"`
	Images  []*Image `json:"images"`
}

func (s *Store) indexPath() string { return filepath.Join(s.root, "images.json") }

// LayerDir is the unpacked directory of the layer with the given DiffID.
func (s *Store) LayerDir(diffID string) string {
	return filepath.Join(s.root, "layers", filepath.FromSlash(digestPath(diffID)))
}

// LayerDirs are the unpacked layers of im, bottom first.
func (s *Store) LayerDirs(im *Image) []string {
	dirs := make([]string, len(im.Layers))
	for i, l := range im.Layers {
		dirs[i] = s.LayerDir(l)
	}
	return dirs
}

// List returns every image, ordered by ID.
func (s *Store) List() []Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Image, 0, len(s.images))
	for _, im := range s.images {
		c := *im
		c.Refs = slices.Clone(im.Refs)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Image) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Get finds an image by normalized reference, by ID or by manifest digest.
func (s *Store) Get(ref string) (*Image, error) {
	if n, err := Normalize(ref); err == nil {
		ref = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, im := range s.images {
		if im.ID == ref || im.Digest == ref || slices.Contains(im.Refs, ref) {
			s.lastUsed[im.ID] = time.Now()
			c := *im
			c.Refs = slices.Clone(im.Refs)
			return &c, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
}

// add stores img under ref (which may be empty): config and manifest blobs,
// then each layer unpacked, then the index entry.
func (s *Store) add(ref string, img v1.Image) (*Image, error) {
	s.gc.RLock()
	defer s.gc.RUnlock()
	im, err := s.put(img)
	if err != nil {
		return nil, err
	}
	return im, s.record(im, ref)
}

// put writes img's blobs and unpacks its layers; nothing in the index
// refers to them until record (content addressed, a failed import leaves
// only unreferenced blobs and complete layers behind).
func (s *Store) put(img v1.Image) (*Image, error) {
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	rawMan, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	id, err := s.putBlob(rawCfg)
	if err != nil {
		return nil, err
	}
	digest, err := s.putBlob(rawMan)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image has %d layers but its config lists %d", len(layers), len(cfg.RootFS.DiffIDs))
	}
	im := &Image{ID: id, Digest: digest, Added: time.Now().UTC(), Config: configOf(cfg)}
	for i, l := range layers {
		diffID := cfg.RootFS.DiffIDs[i].String()
		size, err := s.unpackLayer(diffID, l)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", diffID, err)
		}
		im.Layers = append(im.Layers, diffID)
		im.Size += size
	}
	return im, nil
}

func configOf(cf *v1.ConfigFile) Config {
	return Config{
		Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd, Env: cf.Config.Env,
		WorkingDir: cf.Config.WorkingDir, User: cf.Config.User,
		OS: cf.OS, Arch: cf.Architecture,
	}
}

// record adds im to the index, moving ref away from any image it named before.
func (s *Store) record(im *Image, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordLocked(im, ref)
	return s.writeIndex()
}

// recordAll adds images with their references in one index write: an
// import becomes visible whole or not at all.
func (s *Store) recordAll(ims []*Image, refs [][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, im := range ims {
		s.recordLocked(im, "")
		for _, r := range refs[i] {
			s.recordLocked(im, r)
		}
	}
	return s.writeIndex()
}

func (s *Store) recordLocked(im *Image, ref string) {
	if old, ok := s.images[im.ID]; ok && old != im {
		im.Refs, im.Added = slices.Clone(old.Refs), old.Added // not shared: the loop below edits old's
	}
	if ref != "" {
		for _, other := range s.images {
			other.Refs = slices.DeleteFunc(other.Refs, func(r string) bool { return r == ref })
		}
		if !slices.Contains(im.Refs, ref) {
			im.Refs = append(im.Refs, ref)
			slices.Sort(im.Refs)
		}
	}
	s.images[im.ID] = im
}

// CreateTemp creates a file in the store's temporary directory (on the
// store's file system, emptied by Open): where an upload waits for Import.
func (s *Store) CreateTemp(pattern string) (*os.File, error) {
	return os.CreateTemp(filepath.Join(s.root, "tmp"), pattern)
}

func (s *Store) writeIndex() error {
	idx := index{Version: 1}
	for _, im := range s.images {
		idx.Images = append(idx.Images, im)
	}
	slices.SortFunc(idx.Images, func(a, b *Image) int { return cmp.Compare(a.ID, b.ID) })
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.indexPath(), b)
}

// putBlob stores b by its sha256 digest and returns the digest.
func (s *Store) putBlob(b []byte) (string, error) {
	sum := sha256.Sum256(b)
	d := "sha256:" + hex.EncodeToString(sum[:])
	p := filepath.Join(s.root, "blobs", digestPath(d))
	if _, err := os.Stat(p); err == nil {
		return d, nil
	}
	return d, writeFileAtomic(p, b)
}

// unpackLayer unpacks l into its DiffID directory unless it is there already.
func (s *Store) unpackLayer(diffID string, l v1.Layer) (int64, error) {
	mu, _ := s.layers.LoadOrStore(diffID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	final := s.LayerDir(diffID)
	if fi, err := os.Stat(final); err == nil && fi.IsDir() {
		return dirSize(final), nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "layer-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(rc, h)}
	if err := Unpack(cr, tmp); err != nil {
		return 0, err
	}
	if _, err := io.Copy(io.Discard, cr); err != nil { // tar padding counts too
		return 0, err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != diffID {
		return 0, fmt.Errorf("content does not match its DiffID (got %s)", got)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return 0, err
	}
	return cr.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// digestPath turns "sha256:abc" into "sha256/abc"; callers only pass
// digests computed or verified by go-containerregistry.
func digestPath(d string) string {
	h, err := v1.NewHash(d)
	if err != nil {
		return filepath.Join("invalid", hex.EncodeToString([]byte(d)))
	}
	return h.Algorithm + "/" + h.Hex
}

func writeFileAtomic(p string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}
