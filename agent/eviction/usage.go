package eviction

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// Disk usage as du(1) counts it, for local ephemeral storage
// (storage.go): the blocks files take (st_blocks × 512), not their
// sizes, so sparse files count what they hold. Symlinks are not followed,
// a file with several links counts once per walk, other file systems
// mounted inside are not entered (du -x), and files that vanish while
// the walk runs (containers keep writing) are skipped, never an error.

// diskWalk is one measurement; reuse it across roots that should count a
// hard-linked file once (a container's writable layer and its logs).
type diskWalk struct {
	ctx   context.Context
	seen  map[fileID]bool // files with more than one link, counted already
	bytes int64
	n     int // entries looked at, to check ctx now and then

	// onDir, when set (tests), runs after a directory's names were read
	// and before they are looked at.
	onDir func(dir string)
}

type fileID struct{ dev, ino uint64 }

func newDiskWalk(ctx context.Context) *diskWalk {
	return &diskWalk{ctx: ctx, seen: map[fileID]bool{}}
}

// du walks the trees at roots (a missing one counts 0) and returns the
// bytes counted so far by this walk. It stops early with ctx's error when
// ctx ends; the bytes are then a lower bound.
func (w *diskWalk) du(roots ...string) (int64, error) {
	for _, root := range roots {
		var st unix.Stat_t
		if err := unix.Lstat(root, &st); err != nil {
			continue // absent (no logs yet, a container gone)
		}
		w.count(&st)
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := w.dir(root, uint64(st.Dev)); err != nil {
				return w.bytes, err
			}
		}
	}
	return w.bytes, nil
}

func (w *diskWalk) count(st *unix.Stat_t) {
	if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		id := fileID{uint64(st.Dev), st.Ino}
		if w.seen[id] {
			return
		}
		w.seen[id] = true
	}
	w.bytes += int64(st.Blocks) * 512
}

// dir counts what directory path (on device dev) holds. It reads all
// names first and closes the directory before going down, so the walk
// holds one descriptor whatever the depth.
func (w *diskWalk) dir(path string, dev uint64) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil // vanished, or replaced by something else: skip
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var names []string
	for {
		chunk, err := f.Readdirnames(1024)
		names = append(names, chunk...)
		if err != nil {
			break // io.EOF; else count what could be read
		}
	}
	if w.onDir != nil {
		w.onDir(path)
	}
	var sub []string
	for _, name := range names {
		if w.n++; w.n%256 == 0 {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue // removed since it was listed
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if uint64(st.Dev) != dev {
				continue // a mount point: another file system's usage
			}
			w.count(&st)
			sub = append(sub, name)
			continue
		}
		w.count(&st)
	}
	f.Close()
	for _, name := range sub {
		if err := w.dir(filepath.Join(path, name), dev); err != nil {
			return err
		}
	}
	return w.ctx.Err()
}

// podStorage is a pod's local ephemeral storage use in bytes, as the
// kubelet's eviction manager counts it: each container's writable layer
// and logs, and the emptyDir volumes on the node's disk.
type podStorage struct {
	containers map[string]int64 // by container name
	emptyDirs  map[string]int64 // by volume name (medium "" only)
	// partial: the walk ran out of time, every figure is a lower bound
	// (still enough to tell that a limit is exceeded).
	partial bool
}

func (u podStorage) total() int64 {
	var sum int64
	for _, n := range u.containers {
		sum += n
	}
	for _, n := range u.emptyDirs {
		sum += n
	}
	return sum
}

// storageWalkBudget bounds the walk of one pod: one with millions of
// files is measured partly rather than holding up the eviction loop.
const storageWalkBudget = 2 * time.Second

// measureStorage walks pod's storage: the writable layer of its runtime
// containers (ctrs, the node's) and the logs of every container name, then
// its disk-backed emptyDirs.
func (m *Manager) measureStorage(ctx context.Context, uid string, pod *corev1.Pod, ctrs []Container) podStorage {
	ctx, cancel := context.WithTimeout(ctx, storageWalkBudget)
	defer cancel()
	u := podStorage{containers: map[string]int64{}, emptyDirs: map[string]int64{}}
	layers := map[string][]string{} // container name → writable layer
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		layers[c.Name] = nil
	}
	for _, c := range ctrs {
		if c.PodUID == uid && c.Name != "" {
			if l := m.cfg.Files.WritableLayer(c.ID); l != "" {
				layers[c.Name] = append(layers[c.Name], l)
			}
		}
	}
	for name, dirs := range layers {
		logDir := m.cfg.Files.LogDir(uid, name)
		n, err := newDiskWalk(ctx).du(append(dirs, logDir)...)
		u.containers[name] = n
		if err != nil {
			u.partial = true
			return u
		}
	}
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumDefault {
			continue // tmpfs: memory, bounded by its size
		}
		n, err := newDiskWalk(ctx).du(m.cfg.Files.VolumeDir(uid, v.Name))
		u.emptyDirs[v.Name] = n
		if err != nil {
			u.partial = true
			return u
		}
	}
	return u
}
