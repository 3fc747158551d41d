package logs

import (
	"bytes"
	"errors"
	"time"
)

// Streams and tags of the CRI log format.
const (
	Stdout = "stdout"
	Stderr = "stderr"

	tagFull    = 'F'
	tagPartial = 'P'
)

// record is one line of a CRI log file.
type record struct {
	time    time.Time
	stream  string
	partial bool   // P: the line continues in the next record of the stream
	content []byte // without the newline
}

// appendRecord writes one record, newline included.
func appendRecord(dst []byte, t time.Time, stream string, partial bool, content []byte) []byte {
	dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, ' ')
	dst = append(dst, stream...)
	tag := byte(tagFull)
	if partial {
		tag = tagPartial
	}
	dst = append(dst, ' ', tag, ' ')
	dst = append(dst, content...)
	return append(dst, '\n')
}

var errRecord = errors.New("not a CRI log record")

// parseRecord reads one line (newline optional). content aliases line.
func parseRecord(line []byte) (record, error) {
	var r record
	line = bytes.TrimSuffix(line, []byte{'\n'})
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return r, errRecord
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return r, errRecord
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (string(stream) != Stdout && string(stream) != Stderr) {
		return r, errRecord
	}
	tags, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(tags) == 0 {
		return r, errRecord
	}
	// Tags are colon-separated; the first says full or partial.
	r.time, r.stream, r.partial, r.content = t, string(stream), tags[0] == tagPartial, content
	return r, nil
}

// Content is what a CRI log file holds without its framing: each record's
// content, a newline after full ones (for tests and debugging).
func Content(file []byte) []byte {
	var out []byte
	for line := range bytes.Lines(file) {
		if r, err := parseRecord(line); err == nil {
			out = append(out, r.content...)
			if !r.partial {
				out = append(out, '\n')
			}
		}
	}
	return out
}
