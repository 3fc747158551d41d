package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Import loads every image of a tarball made by `docker save`
// (docker-archive, manifest.json) or of an OCI image layout packed as a tar
// (oci-layout, index.json). When a tarball is both, as `docker save` makes
// since Docker 25, the docker-archive view is used for its RepoTags.
func (s *Store) Import(path string) ([]*Image, error) {
	names, err := tarNames(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: not a tar archive: %w", path, err)
	}
	switch {
	case names["manifest.json"]:
		return s.importDockerArchive(path)
	case names["oci-layout"] && names["index.json"]:
		return s.importOCILayout(path)
	}
	return nil, fmt.Errorf("import %s: neither a docker-archive (manifest.json) nor an OCI layout (oci-layout, index.json)", path)
}

func tarNames(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		if n, err := localName(h.Name); err == nil {
			names[n] = true
		}
	}
}

func (s *Store) importDockerArchive(path string) ([]*Image, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	var imgs []v1.Image
	var refs [][]string
	for i, d := range m {
		var img v1.Image
		var names []string
		if len(d.RepoTags) == 0 {
			if len(m) != 1 {
				return nil, fmt.Errorf("import %s: image %d has no tag and the archive holds %d images", path, i, len(m))
			}
			img, err = tarball.Image(opener, nil)
		} else {
			var tag name.Tag
			if tag, err = name.NewTag(d.RepoTags[0]); err == nil {
				img, err = tarball.Image(opener, &tag)
			}
			for _, t := range d.RepoTags {
				if n, err := Normalize(t); err == nil {
					names = append(names, n)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", path, err)
		}
		imgs, refs = append(imgs, img), append(refs, names)
	}
	return s.putAll(path, imgs, refs)
}

// putAll stores every image of an import, then records them all in one
// index write: a tarball whose last image is bad adds nothing.
func (s *Store) putAll(path string, imgs []v1.Image, refs [][]string) ([]*Image, error) {
	s.gc.RLock()
	defer s.gc.RUnlock()
	var out []*Image
	for _, img := range imgs {
		im, err := s.put(img)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", path, err)
		}
		out = append(out, im)
	}
	if err := s.recordAll(out, refs); err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	copies := make([]*Image, len(out))
	for i, im := range out {
		c := *s.images[im.ID]
		c.Refs = slices.Clone(c.Refs)
		copies[i] = &c
	}
	return copies, nil
}

// importOCILayout unpacks the layout's files (plain files and directories
// only, validated like layer entries) into a temporary directory and reads
// it with go-containerregistry's layout package.
func (s *Store) importOCILayout(path string) ([]*Image, error) {
	dir, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "oci-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := extractPlain(path, dir); err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	var imgs []v1.Image
	var refs [][]string
	for _, d := range im.Manifests {
		img, err := imageFor(idx, d)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", path, err)
		}
		var names []string
		for _, key := range []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"} {
			if n, err := Normalize(d.Annotations[key]); err == nil && d.Annotations[key] != "" {
				names = append(names, n)
				break
			}
		}
		imgs, refs = append(imgs, img), append(refs, names)
	}
	return s.putAll(path, imgs, refs)
}

// imageFor resolves a descriptor of an index to an image, choosing
// linux/amd64 from a nested index.
func imageFor(idx v1.ImageIndex, d v1.Descriptor) (v1.Image, error) {
	if !d.MediaType.IsIndex() {
		return idx.Image(d.Digest)
	}
	child, err := idx.ImageIndex(d.Digest)
	if err != nil {
		return nil, err
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, c := range cm.Manifests {
		if c.Platform != nil && c.Platform.OS == "linux" && c.Platform.Architecture == "amd64" {
			return imageFor(child, c)
		}
	}
	return nil, fmt.Errorf("index %s has no linux/amd64 image", d.Digest)
}

func extractPlain(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		e, err := ValidateEntry(h)
		if err != nil {
			return err
		}
		switch e.Kind {
		case EntryDir:
			if err := root.MkdirAll(e.Name, 0o700); err != nil {
				return err
			}
		case EntryFile:
			if err := root.MkdirAll(filepath.Dir(e.Name), 0o700); err != nil {
				return err
			}
			w, err := root.OpenFile(e.Name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(w, tr)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			// An image layout holds only files and directories.
			return fmt.Errorf("tar entry %q: unexpected type in an OCI layout", h.Name)
		}
	}
}
