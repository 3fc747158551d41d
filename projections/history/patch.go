package history

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// rawPatch is the merge patch from a to b, two JSON objects, comparing
// values as bytes and decoding only the objects that differ: most of an
// object is unchanged between revisions and is never decoded. Values that
// differ only in formatting come out as changed (still a correct patch).
func rawPatch(a, b []byte, top bool) (map[string]json.RawMessage, error) {
	ma, err := splitObject(a)
	if err != nil {
		return nil, err
	}
	mb, err := splitObject(b)
	if err != nil {
		return nil, err
	}
	return patchMaps(ma, mb, top)
}

// patchMaps is rawPatch on two objects already split into members.
func patchMaps(ma, mb map[string]json.RawMessage, top bool) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for k, va := range ma {
		vb, ok := mb[k]
		switch {
		case !ok:
			out[k] = json.RawMessage("null")
		case bytes.Equal(va, vb):
		case isObject(va) && isObject(vb):
			sub, err := rawPatch(va, vb, false)
			if err != nil {
				return nil, err
			}
			if top && k == "metadata" {
				delete(sub, "resourceVersion")
			}
			if len(sub) > 0 {
				out[k] = marshalMembers(sub)
			}
		default:
			out[k] = vb
		}
	}
	for k, vb := range mb {
		if _, ok := ma[k]; !ok {
			out[k] = vb
		}
	}
	return out, nil
}

func isObject(v json.RawMessage) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && v[0] == '{'
}

// MergePatch is the JSON merge patch (RFC 7386) that turns a into b: the
// changed and added fields with their new values, removed fields as null,
// arrays replaced whole. Equal objects give {}.
func MergePatch(a, b []byte) (json.RawMessage, error) {
	p, err := rawPatch(a, b, true)
	if err != nil {
		return nil, err
	}
	return marshalMembers(p), nil
}

// splitObject cuts a valid JSON object into its members' raw values
// without decoding them (events.Decode has validated the JSON; a full
// json.Unmarshal would validate it again at every level).
func splitObject(b []byte) (map[string]json.RawMessage, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, notAnObject(b)
	}
	out := map[string]json.RawMessage{}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return out, nil
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, notAnObject(b)
		}
		end := skipString(b, i)
		key := string(b[i+1 : end-1])
		if bytes.IndexByte(b[i:end], '\\') >= 0 {
			if err := json.Unmarshal(b[i:end], &key); err != nil {
				return nil, notAnObject(b)
			}
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, notAnObject(b)
		}
		start := skipSpace(b, i+1)
		stop := skipValue(b, start)
		if stop <= start || stop > len(b) {
			return nil, notAnObject(b)
		}
		out[key] = json.RawMessage(b[start:stop])
		i = skipSpace(b, stop)
		if i < len(b) && b[i] == '}' {
			return out, nil
		}
		if i >= len(b) || b[i] != ',' {
			return nil, notAnObject(b)
		}
		i = skipSpace(b, i+1)
	}
	return nil, notAnObject(b)
}

// notAnObject is splitObject's error, built only when needed (formatting
// it on every call cost a fifth of a history read).
func notAnObject(b []byte) error {
	return fmt.Errorf("object JSON: not an object: %.40q", b)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b) + 1
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b) + 1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		return j
	}
}
