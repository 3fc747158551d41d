package projections

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/wakehq/wake/events"
)

// BuildObject turns an event's data into the served object: the same JSON with
// metadata.resourceVersion set to the event's sequence. Keys of the object and
// of its metadata come out sorted and values compact (with <, > and &
// escaped), exactly as encoding/json writes a map of raw messages, so the
// result depends on the event alone.
//
// It is the fold's hot path, so it splices members instead of decoding the
// whole object; keys that are not plain ASCII take encoding/json's own path.
func BuildObject(ev events.Event) (*Object, error) {
	if !json.Valid(ev.Data) {
		return nil, errors.New("data is not valid JSON")
	}
	top, ok := members(ev.Data)
	if !ok {
		return nil, errors.New("data is not a JSON object")
	}
	metaVal, found := lookup(top, "metadata")
	var meta []member
	if found {
		meta, ok = members(metaVal)
	}
	if !found || !ok {
		return nil, errors.New("data has no metadata object")
	}
	var m struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		UID       string            `json:"uid"`
		Labels    map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(metaVal, &m); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if m.Name != ev.Ref.Name || m.Namespace != ev.Ref.Namespace {
		return nil, fmt.Errorf("data names %s/%s, not the event's object", m.Namespace, m.Name)
	}
	meta = set(meta, "resourceVersion", []byte(strconv.Quote(strconv.FormatUint(ev.Seq, 10))))
	var metaBuf bytes.Buffer
	metaBuf.Grow(len(metaVal) + 32)
	writeMembers(&metaBuf, meta)
	top = set(top, "metadata", metaBuf.Bytes())
	var out bytes.Buffer
	out.Grow(len(ev.Data) + 32)
	writeMembers(&out, top)
	return &Object{Ref: ev.Ref, Seq: ev.Seq, Raw: out.Bytes(), UID: m.UID, Labels: m.Labels}, nil
}

// member is one key and raw value of a JSON object.
type member struct {
	key   string
	value []byte
}

// members splits valid JSON holding an object into its members, the last of
// duplicate keys winning as in encoding/json. ok is false for anything but
// an object.
func members(b []byte) ([]member, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	var out []member
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, true
	}
	for i < len(b) {
		end := stringEnd(b, i)
		if end < 0 {
			return nil, false
		}
		key := string(b[i+1 : end-1])
		if !plainKey(key) {
			if err := json.Unmarshal(b[i:end], &key); err != nil {
				return nil, false
			}
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		start := skipSpace(b, i+1)
		vend := valueEnd(b, start)
		if vend < 0 {
			return nil, false
		}
		out = set(out, key, b[start:vend])
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		return out, i < len(b) && b[i] == '}'
	}
	return nil, false
}

func set(ms []member, key string, value []byte) []member {
	for i := range ms {
		if ms[i].key == key {
			ms[i].value = value
			return ms
		}
	}
	return append(ms, member{key, value})
}

func lookup(ms []member, key string) ([]byte, bool) {
	for _, m := range ms {
		if m.key == key {
			return m.value, true
		}
	}
	return nil, false
}

// writeMembers writes members as encoding/json writes a map[string]RawMessage.
func writeMembers(buf *bytes.Buffer, ms []member) {
	slices.SortFunc(ms, func(a, b member) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	buf.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			buf.WriteByte(',')
		}
		if plainKey(m.key) {
			buf.WriteByte('"')
			buf.WriteString(m.key)
			buf.WriteByte('"')
		} else {
			k, _ := json.Marshal(m.key)
			buf.Write(k)
		}
		buf.WriteByte(':')
		writeValue(buf, m.value)
	}
	buf.WriteByte('}')
}

// writeValue writes a valid raw value compacted with HTML characters
// escaped, as encoding/json does for a RawMessage.
func writeValue(buf *bytes.Buffer, v []byte) {
	if !needsRewrite(v) {
		buf.Write(v) // already compact, nothing to escape
		return
	}
	var c bytes.Buffer
	json.Compact(&c, v)
	json.HTMLEscape(buf, c.Bytes())
}

// rewriteBytes are the bytes that may need compacting or escaping.
var rewriteBytes = [256]bool{' ': true, '\t': true, '\r': true, '\n': true, '<': true, '>': true, '&': true, 0xe2: true}

func needsRewrite(v []byte) bool {
	for _, c := range v {
		if rewriteBytes[c] {
			return true
		}
	}
	return false
}

// plainKey reports whether encoding/json writes key as is between quotes.
func plainKey(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string starting at b[i], or -1.
func stringEnd(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index after the valid JSON value starting at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := stringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}
