package logs

import (
	"bufio"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// MaxBytes is the size at which a log file is rotated (one rotated file is
// kept, so a container keeps at most twice this on disk).
const MaxBytes = 10 << 20

// maxRecord is the longest content of one record; longer lines are split
// into partial (P) records, as containerd does.
const maxRecord = 16 << 10

// ShimArg is the argument that makes a binary calling libct.Init run
// RunShim instead of its main.
const ShimArg = "log-shim"

// Shim writes a container's stdout and stderr into a CRI log file.
type Shim struct {
	Path     string
	MaxBytes int64            // MaxBytes when 0
	Now      func() time.Time // time.Now when nil

	mu   sync.Mutex
	f    *os.File
	size int64
	buf  []byte
}

// Run copies both streams until both end (every process holding their
// write ends has exited), one record per line, and rotates the file at
// MaxBytes.
func (s *Shim) Run(stdout, stderr io.Reader) error {
	if s.MaxBytes <= 0 {
		s.MaxBytes = MaxBytes
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if err := s.open(); err != nil {
		return err
	}
	defer s.f.Close()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, in := range []io.Reader{stdout, stderr} {
		stream := []string{Stdout, Stderr}[i]
		wg.Go(func() { errs[i] = s.copy(stream, in) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Shim) open() error {
	f, err := os.OpenFile(s.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	s.f, s.size = f, st.Size()
	return nil
}

func (s *Shim) copy(stream string, in io.Reader) error {
	if in == nil {
		return nil
	}
	br := bufio.NewReaderSize(in, maxRecord)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			s.write(stream, false, line[:len(line)-1])
		case errors.Is(err, bufio.ErrBufferFull):
			s.write(stream, true, line)
		case len(line) > 0:
			s.write(stream, false, line) // the last line had no newline
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// write appends one record in a single write, so readers never see half a
// record unless the disk is full.
func (s *Shim) write(stream string, partial bool, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = appendRecord(s.buf[:0], s.Now(), stream, partial, content)
	if s.size > 0 && s.size+int64(len(s.buf)) > s.MaxBytes {
		s.rotate()
	}
	n, _ := s.f.Write(s.buf)
	s.size += int64(n)
}

// rotate keeps the current file as the one rotated file. On failure the
// shim goes on appending to the current file rather than lose lines.
func (s *Shim) rotate() {
	if err := os.Rename(s.Path, Rotated(s.Path)); err != nil {
		return
	}
	old := s.f
	if err := s.open(); err != nil {
		s.f = old
		return
	}
	old.Close()
}

// RunShim is the log-shim process: fd 3 and 4 are the read ends of the
// container's stdout and stderr pipes, fd 5 the writer's lock (kept open,
// never touched). With a second argument, fd 6 is a pidfd of the
// container's init, whose wait status it records at that path once the
// output has ended (exit.go). It returns the process's exit code.
func RunShim(args []string) int {
	if len(args) != 1 && len(args) != 2 {
		return 2
	}
	stdout, stderr := os.NewFile(3, "stdout"), os.NewFile(4, "stderr")
	code := 0
	if err := (&Shim{Path: args[0]}).Run(stdout, stderr); err != nil {
		code = 1
	}
	if len(args) == 2 {
		if err := recordExit(os.NewFile(6, "pidfd"), args[1]); err != nil {
			code = 1
		}
	}
	return code
}
