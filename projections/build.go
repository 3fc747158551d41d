package projections

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

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
	return buildValid(ev)
}

// buildValid is BuildObject for data already known to be valid JSON (as
// events.Decode leaves it): the splicing below relies on that.
func buildValid(ev events.Event) (*Object, error) {
	b := builders.Get().(*builder)
	defer builders.Put(b)
	return b.build(ev)
}

// builder is buildValid's scratch space, reused through builders: the
// members of the object, of its metadata and of its labels, and the
// labels map last built. Objects are immutable, so objects whose labels
// are the same bytes (a replica set's pods, an object's successive
// revisions) share one map instead of each allocating its own.
type builder struct {
	top, meta, labels []member
	rv                [24]byte
	labelsRaw         []byte
	labelsMap         map[string]string
}

var builders = sync.Pool{New: func() any { return new(builder) }}

func (b *builder) build(ev events.Event) (*Object, error) {
	top, ok := members(ev.Data, b.top[:0])
	b.top = top[:0]
	if !ok {
		return nil, errors.New("data is not a JSON object")
	}
	if kind, _ := lookup(top, "kind"); !dataKindOK(kind, ev.Kind) {
		return nil, fmt.Errorf("data has kind %s, the event says %q", clean(string(kind), 64), ev.Kind)
	}
	metaVal, found := lookup(top, "metadata")
	var meta []member
	if found {
		meta, ok = members(metaVal, b.meta[:0])
		b.meta = meta[:0]
	}
	if !found || !ok {
		return nil, errors.New("data has no metadata object")
	}
	m, ok := b.fastMeta(meta, ev.Ref)
	if !ok {
		m = objectMeta{}
		if err := json.Unmarshal(metaVal, &m); err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
	}
	if m.Name != ev.Ref.Name || m.Namespace != ev.Ref.Namespace {
		return nil, fmt.Errorf("data names %s/%s, not the event's object", m.Namespace, m.Name)
	}
	rv := append(strconv.AppendUint(append(b.rv[:0], '"'), ev.Seq, 10), '"')
	meta = set(meta, "resourceVersion", rv)
	b.meta = meta[:0]
	var out bytes.Buffer
	out.Grow(len(ev.Data) + 32)
	writeObject(&out, top, "metadata", meta)
	return &Object{Ref: ev.Ref, Seq: ev.Seq, Raw: out.Bytes(), UID: m.UID, Labels: m.Labels}, nil
}

// objectMeta is what the fold reads from an object's metadata.
type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	UID       string            `json:"uid"`
	Labels    map[string]string `json:"labels"`
}

// fastMeta reads objectMeta from metadata's members (valid JSON) as
// json.Unmarshal would, for the common shape: each field under its exact
// name at most once (duplicates were merged by members, and Unmarshal
// merges duplicate labels objects), strings and a labels object of
// strings, or null. ok is false for anything else (a key matching a
// field only case-insensitively, another type): Unmarshal decides those.
//
// Name and namespace equal to ref's share its strings.
func (b *builder) fastMeta(meta []member, ref events.Ref) (m objectMeta, ok bool) {
	for _, mb := range meta {
		var dst *string
		known := ""
		switch mb.key {
		case "name":
			dst, known = &m.Name, ref.Name
		case "namespace":
			dst, known = &m.Namespace, ref.Namespace
		case "uid":
			dst = &m.UID
		case "labels":
			if mb.dup || !b.fastLabels(mb.value, &m.Labels) {
				return m, false
			}
			continue
		default:
			if mb.dup || foldsToField(mb.key) {
				return m, false
			}
			continue
		}
		if mb.dup || !fastString(mb.value, dst, known) {
			return m, false
		}
	}
	return m, true
}

// foldsToField reports whether Unmarshal would store key in an objectMeta
// field although it is not the field's exact name.
func foldsToField(key string) bool {
	for _, f := range [...]string{"name", "namespace", "uid", "labels"} {
		if len(key) == len(f) && strings.EqualFold(key, f) {
			return true
		}
	}
	// Unicode folding (the Kelvin sign folds to k, ſ to s) can match keys
	// of other lengths: leave any non-ASCII key to Unmarshal.
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// fastString stores a JSON string or null in dst as Unmarshal does; false
// for other values and for strings needing unescaping or UTF-8 repair. A
// string equal to known is stored as known, without allocating.
func fastString(v []byte, dst *string, known string) bool {
	if string(v) == "null" {
		return true // Unmarshal leaves the field as it is
	}
	if len(v) < 2 || v[0] != '"' {
		return false
	}
	body := v[1 : len(v)-1]
	for _, c := range body {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	if string(body) == known {
		*dst = known
	} else {
		*dst = string(body)
	}
	return true
}

// fastLabels stores a labels object of strings, or null, as Unmarshal does.
func (b *builder) fastLabels(v []byte, dst *map[string]string) bool {
	if string(v) == "null" {
		*dst = nil
		return true
	}
	if b.labelsMap != nil && bytes.Equal(v, b.labelsRaw) {
		*dst = b.labelsMap
		return true
	}
	ms, ok := members(v, b.labels[:0])
	b.labels = ms[:0]
	if !ok {
		return false
	}
	labels := make(map[string]string, len(ms))
	for _, mb := range ms {
		var s string
		if string(mb.value) == "null" || !fastString(mb.value, &s, "") {
			return false // null and other values: Unmarshal decides
		}
		labels[mb.key] = s
	}
	*dst = labels
	b.labelsRaw, b.labelsMap = append(b.labelsRaw[:0], v...), labels
	return true
}

// member is one key and raw value of a JSON object.
type member struct {
	key   string
	value []byte
	dup   bool // the key occurred more than once; value is the last
}

// members splits valid JSON holding an object into its members, appended
// to out, the last of duplicate keys winning as in encoding/json. ok is
// false for anything but an object.
func members(b []byte, out []member) ([]member, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return out, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, true
	}
	for i < len(b) {
		end := stringEnd(b, i)
		if end < 0 {
			return out, false
		}
		key, common := commonKey(b[i+1 : end-1])
		if !common {
			key = string(b[i+1 : end-1])
		}
		if !common && !plainKey(key) {
			if key, common = unquote(b[i:end]); !common {
				return out, false
			}
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return out, false
		}
		start := skipSpace(b, i+1)
		vend := valueEnd(b, start)
		if vend < 0 {
			return out, false
		}
		out = set(out, key, b[start:vend])
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		return out, i < len(b) && b[i] == '}'
	}
	return out, false
}

// unquote decodes a JSON string as encoding/json does (kept apart from
// members so that its key does not escape to the heap).
func unquote(s []byte) (string, bool) {
	var v string
	err := json.Unmarshal(s, &v)
	return v, err == nil
}

func set(ms []member, key string, value []byte) []member {
	for i := range ms {
		if ms[i].key == key {
			ms[i].value = value
			ms[i].dup = true
			return ms
		}
	}
	return append(ms, member{key: key, value: value})
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
func writeMembers(buf *bytes.Buffer, ms []member) { writeObject(buf, ms, "", nil) }

// writeObject is writeMembers with the value of member key (if any) written
// as the object of inner, in the same form.
func writeObject(buf *bytes.Buffer, ms []member, key string, inner []member) {
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
		if inner != nil && m.key == key {
			writeMembers(buf, inner)
			continue
		}
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
// A quote ends the string unless an odd run of backslashes precedes it.
func stringEnd(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for j := i + 1; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// commonKeys are keys most objects have, returned by commonKey as these
// strings so that splitting an object does not allocate them again.
var commonKeys = [...]string{"apiVersion", "kind", "metadata", "spec", "status", "data", "binaryData",
	"name", "namespace", "uid", "labels", "annotations", "resourceVersion", "generation",
	"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences",
	"finalizers", "managedFields", "generateName", "app"}

func commonKey(k []byte) (string, bool) {
	for _, c := range commonKeys {
		if len(c) == len(k) && string(k) == c {
			return c, true
		}
	}
	return "", false
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
