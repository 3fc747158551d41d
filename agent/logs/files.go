package logs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Path is the log file of one attempt of a container, under a pods
// directory (<state>/pods).
func Path(podsDir, uid, container string, attempt int) string {
	return filepath.Join(podsDir, uid, "logs", container, strconv.Itoa(attempt)+".log")
}

// Rotated is the one older file of a log, and LockPath the file its writer
// holds locked.
func Rotated(path string) string  { return path + ".1" }
func LockPath(path string) string { return path + ".lock" }

// Remove deletes a log with its rotated file and lock.
func Remove(path string) {
	os.Remove(Rotated(path))
	os.Remove(LockPath(path))
	os.Remove(path)
}

// attempts lists a container's attempts that have a log, newest first.
func attempts(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []int
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".log"); ok {
			if a, err := strconv.Atoi(n); err == nil {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}

// WriterAlive reports whether a writer still holds the lock of the log at
// path, that is, whether more may be appended to it.
func WriterAlive(path string) bool {
	f, err := os.Open(LockPath(path))
	if err != nil {
		return false
	}
	defer f.Close()
	return unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) == unix.EWOULDBLOCK
}

// LockWriter creates and locks the lock file of the log at path. The lock
// lives as long as the returned file's descriptor, or any copy of it
// handed to a child process.
func LockWriter(path string) (*os.File, error) {
	f, err := os.OpenFile(LockPath(path), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
