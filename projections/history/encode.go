package history

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
)

// AppendJSON appends h's revisions as encoding/json would write the
// History's members (without the enclosing braces): "revisions":[…],
// "truncated":true when set, "firstRetained":"N". The output is the same
// bytes as json.Marshal's; writing it directly skips json.Marshal's second
// pass over every diff (validation and compaction of raw values), a tenth
// of a 10,000-revision answer.
func (h *History) AppendJSON(b []byte) []byte {
	b = append(b, `"revisions":[`...)
	for i := range h.Revisions {
		if i > 0 {
			b = append(b, ',')
		}
		b = h.Revisions[i].appendJSON(b)
	}
	b = append(b, ']')
	if h.Truncated {
		b = append(b, `,"truncated":true`...)
	}
	b = append(b, `,"firstRetained":"`...)
	b = strconv.AppendUint(b, h.FirstRetained, 10)
	return append(b, '"')
}

func (r *Revision) appendJSON(b []byte) []byte {
	b = append(b, `{"resourceVersion":"`...)
	b = strconv.AppendUint(b, r.ResourceVersion, 10)
	b = append(b, `","time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","change":`...)
	b = appendString(b, r.Change)
	b = append(b, `,"actor":`...)
	b = appendString(b, r.Actor)
	b = append(b, `,"requestID":`...)
	b = appendString(b, r.RequestID)
	b = append(b, `,"source":`...)
	b = appendString(b, r.Source)
	b = append(b, `,"eventID":`...)
	b = appendString(b, r.EventID)
	if len(r.Detail) > 0 {
		b = append(b, `,"detail":`...)
		b = appendRaw(b, r.Detail)
	}
	b = append(b, `,"diff":`...)
	if r.Diff == nil {
		b = append(b, "null"...)
	} else {
		b = appendRaw(b, r.Diff)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string, as encoding/json writes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			out, _ := json.Marshal(s)
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRaw appends a valid JSON value as encoding/json writes a
// json.RawMessage: compact, with <, >, & and U+2028/9 escaped in strings.
// Values that need neither (most) are copied as they are.
func appendRaw(b []byte, v []byte) []byte {
	if !needsCompact(v) {
		return append(b, v...)
	}
	out, err := json.Marshal(json.RawMessage(v))
	if err != nil {
		return append(b, v...)
	}
	return append(b, out...)
}

// needsCompact reports whether v (valid JSON) has whitespace between
// tokens, or bytes encoding/json escapes for HTML in strings, that
// json.Marshal of a RawMessage would change.
func needsCompact(v []byte) bool {
	in := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '<' || c == '>' || c == '&' || c == 0xE2:
			return true
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return true
		}
	}
	return false
}

// marshalMembers is json.Marshal of an object's members (keys sorted,
// values as appendRaw writes them), without reflection.
func marshalMembers(m map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(m))
	size := 2
	for k, v := range m {
		keys = append(keys, k)
		size += len(k) + len(v) + 4
	}
	slices.Sort(keys)
	b := make([]byte, 0, size)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendRaw(b, m[k])
	}
	return append(b, '}')
}
