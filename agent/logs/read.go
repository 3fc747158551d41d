package logs

import (
	"bufio"
	"errors"
	"io"
	"os"
	"time"
)

// readOptions are what a reader does with a log, resolved by the server.
type readOptions struct {
	follow     bool
	timestamps bool
	tail       int64 // < 0: all lines
	since      time.Time
}

// pos is a place in a log: file index (0 = rotated, 1 = current) and
// offset.
type pos struct {
	file   int
	offset int64
}

// reader streams one container attempt's log as Kubernetes writes it:
// content only, or with an RFC3339Nano timestamp before each record.
type reader struct {
	path  string
	opts  readOptions
	emit  func([]byte) error // a formatted piece of the log
	idle  func() error       // follow mode, at the end of the file: wait, or stop with an error
	alive func() bool        // whether the writer may still append

	f       *os.File
	br      *bufio.Reader
	pending []byte // a record without its newline yet (the writer is mid-write)
	out     []byte
}

// run writes the log from the start position to the end, and in follow
// mode on until the writer is gone or idle fails.
func (r *reader) run() error {
	files := [2]string{Rotated(r.path), r.path}
	start, err := r.start(files)
	if err != nil {
		return err
	}
	defer func() {
		if r.f != nil {
			r.f.Close()
		}
	}()
	for i := start.file; i < len(files); i++ {
		if err := r.open(files[i], start.offset); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				start.offset = 0
				continue
			}
			return err
		}
		start.offset = 0
		if err := r.drain(); err != nil {
			return err
		}
	}
	if !r.opts.follow {
		return nil
	}
	for {
		done := !r.alive() // asked before the last read: nothing comes after
		if err := r.drain(); err != nil {
			return err
		}
		if rotated, err := r.rotated(); err != nil {
			return err
		} else if rotated {
			if err := r.open(r.path, 0); err != nil {
				return err
			}
			continue
		}
		if done {
			return nil
		}
		if err := r.idle(); err != nil {
			return err
		}
	}
}

func (r *reader) open(path string, offset int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	if r.f != nil {
		r.f.Close()
	}
	r.f, r.pending = f, nil
	if r.br == nil {
		r.br = bufio.NewReaderSize(f, 64<<10)
	} else {
		r.br.Reset(f)
	}
	return nil
}

// rotated reports whether the path now names a newer file than the one
// being read (which has then been read to its end).
func (r *reader) rotated() (bool, error) {
	if r.f == nil {
		_, err := os.Stat(r.path)
		return err == nil, nil
	}
	cur, err := r.f.Stat()
	if err != nil {
		return false, err
	}
	st, err := os.Stat(r.path)
	if err != nil {
		return false, nil
	}
	return !os.SameFile(cur, st), nil
}

// drain emits every complete record up to the end of the open file.
func (r *reader) drain() error {
	if r.f == nil {
		return nil
	}
	for {
		line, err := r.br.ReadBytes('\n')
		if len(r.pending) > 0 {
			line = append(r.pending, line...)
			r.pending = nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				r.pending = line
				return nil
			}
			return err
		}
		if err := r.record(line); err != nil {
			return err
		}
	}
}

func (r *reader) record(line []byte) error {
	rec, err := parseRecord(line)
	if err != nil {
		return nil // not ours (a file from before the CRI format): skip
	}
	if !r.opts.since.IsZero() && rec.time.Before(r.opts.since) {
		return nil
	}
	r.out = r.out[:0]
	if r.opts.timestamps {
		r.out = rec.time.UTC().AppendFormat(r.out, time.RFC3339Nano)
		r.out = append(r.out, ' ')
	}
	r.out = append(r.out, rec.content...)
	if !rec.partial {
		r.out = append(r.out, '\n')
	}
	return r.emit(r.out)
}

// start finds where the last tail lines begin; it keeps only their
// positions, never their content.
func (r *reader) start(files [2]string) (pos, error) {
	if r.opts.tail < 0 {
		return pos{}, nil
	}
	ring := make([]pos, 0, min(r.opts.tail, 4096))
	next, n := 0, int64(0)
	end := pos{file: 1}
	lineStart := true // a line may begin in the rotated file and end in the current one
	for i, path := range files {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return pos{}, err
		}
		br := bufio.NewReaderSize(f, 64<<10)
		off := int64(0)
		for {
			line, err := br.ReadSlice('\n')
			size := int64(len(line))
			if errors.Is(err, bufio.ErrBufferFull) { // a record longer than the buffer: its head is enough
				line = append([]byte(nil), line...)
				for errors.Is(err, bufio.ErrBufferFull) {
					var more []byte
					more, err = br.ReadSlice('\n')
					size += int64(len(more))
				}
			}
			if err != nil { // EOF: an incomplete record is not a line yet
				break
			}
			rec, perr := parseRecord(line)
			if perr == nil && lineStart && r.opts.tail > 0 {
				p := pos{i, off}
				if int64(len(ring)) < r.opts.tail {
					ring = append(ring, p)
				} else {
					ring[next] = p
					next = (next + 1) % len(ring)
				}
				n++
			}
			if perr == nil {
				lineStart = !rec.partial
			}
			off += size
		}
		end = pos{i, off}
		f.Close()
	}
	switch {
	case r.opts.tail == 0:
		return end, nil
	case n <= r.opts.tail:
		return pos{}, nil
	}
	return ring[next], nil
}
