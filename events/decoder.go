package events

import (
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Decoder is Decode for readers of many events (replay, history): the same
// events and the same errors, at a fraction of the cost. A Decoder is not
// safe for concurrent use; give each goroutine its own.
//
// Its fast path reads the headers in one pass over the map instead of one
// lookup per header, splits the subject without allocating, checks the
// data with a validator that is several times faster than json.Valid, and
// remembers the last source it found to be a URI reference (url.Parse
// allocates, and a log has a handful of sources). The fast path only ever
// accepts: anything it is not sure of, every error included, goes to
// Decode, which decides and words the error. So the two cannot disagree
// on what is valid as long as the fast path accepts nothing Decode
// refuses, which FuzzDecoder checks.
type Decoder struct {
	source string // the last source found valid
}

// Decode is Decode(subject, hdr, data, seq).
func (d *Decoder) Decode(subject string, hdr nats.Header, data []byte, seq uint64) (Event, error) {
	if ev, ok := d.fastSafe(subject, hdr, data, seq); ok {
		return ev, nil
	}
	return Decode(subject, hdr, data, seq)
}

// fastSafe is fast, leaving the message to Decode should fast panic on
// bytes nobody foresaw: a reader of the log must survive any message
// (ARCHITECTURE.md, decision 11).
func (d *Decoder) fastSafe(subject string, hdr nats.Header, data []byte, seq uint64) (ev Event, ok bool) {
	defer func() {
		if recover() != nil {
			*d = Decoder{}
			ev, ok = Event{}, false
		}
	}()
	return d.fast(subject, hdr, data, seq)
}

// fast decodes a well-formed event; ok is false when Decode must decide.
func (d *Decoder) fast(subject string, hdr nats.Header, data []byte, seq uint64) (ev Event, ok bool) {
	var spec, typ, ceSubject, contentType, ts, change string
	for k, v := range hdr {
		if len(v) == 0 {
			continue
		}
		switch k {
		case HeaderSpecVersion:
			spec = v[0]
		case HeaderType:
			typ = v[0]
		case HeaderSubject:
			ceSubject = v[0]
		case HeaderContentType:
			contentType = v[0]
		case HeaderTime:
			ts = v[0]
		case HeaderID:
			ev.ID = v[0]
		case HeaderSource:
			ev.Source = v[0]
		case HeaderAPIVersion:
			ev.APIVersion = v[0]
		case HeaderKind:
			ev.Kind = v[0]
		case HeaderActor:
			ev.Actor = v[0]
		case HeaderRequestID:
			ev.RequestID = v[0]
		case HeaderChange:
			change = v[0]
		case HeaderDetail:
			ev.Detail = v[0]
		case HeaderSigner:
			ev.Signer = v[0]
		case HeaderSignature:
			ev.Signature = v[0]
		}
	}
	ev.Type, ev.Change = Type(typ), Change(change)
	if spec != SpecVersion || contentType != ContentType || !ev.Type.Known() {
		return Event{}, false
	}
	ref, ok := fastSubject(subject)
	if !ok || !sameRefString(ceSubject, ref) {
		return Event{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Event{}, false
	}
	ev.Time, ev.Ref, ev.Data, ev.Seq = t.UTC(), ref, data, seq
	switch {
	case ev.ID == "" || ev.Source == "" || ev.APIVersion == "" || ev.Kind == "" || ev.Actor == "" || ev.RequestID == "":
		return Event{}, false
	case strings.TrimSpace(ev.ID) == "":
		return Event{}, false
	case ev.Type == ObjectUpdated && !ev.Change.Known():
		return Event{}, false
	case ev.Type != ObjectUpdated && ev.Change != "":
		return Event{}, false
	case ev.Detail != "" && (len(ev.Detail) > MaxDetail || !fastValidJSON([]byte(ev.Detail))):
		return Event{}, false
	case !fastValidJSON(data):
		return Event{}, false
	}
	for _, v := range [...]string{ev.ID, ev.Source, ev.Actor, ev.RequestID, ev.APIVersion, ev.Kind} {
		if headerValueOK(v) != nil {
			return Event{}, false
		}
	}
	if ev.Source != d.source {
		if !validSource(ev.Source) {
			return Event{}, false
		}
		d.source = ev.Source
	}
	return ev, true
}

// fastSubject is ParseSubject for subjects whose tokens need no unescaping
// (beyond "_" for an empty namespace and "core" for the core group),
// without allocating. ok is false for anything else.
func fastSubject(subject string) (Ref, bool) {
	rest, found := strings.CutPrefix(subject, SubjectPrefix)
	if !found {
		return Ref{}, false
	}
	var toks [4]string
	for i := range toks {
		j := strings.IndexByte(rest, '.')
		if i == len(toks)-1 {
			if j >= 0 {
				return Ref{}, false
			}
			toks[i] = rest
			break
		}
		if j < 0 {
			return Ref{}, false
		}
		toks[i], rest = rest[:j], rest[j+1:]
	}
	for i, tok := range toks {
		if tok == "_" && i == 2 {
			toks[i] = ""
			continue
		}
		if tok == "" {
			return Ref{}, false
		}
		for k := 0; k < len(tok); k++ {
			if !rawByte(tok[k]) {
				return Ref{}, false
			}
		}
	}
	ref := Ref{Group: toks[0], Resource: toks[1], Namespace: toks[2], Name: toks[3]}
	if ref.Group == coreGroup {
		ref.Group = ""
	}
	return ref, true
}

// sameRefString reports whether s == ref.String(), without building it.
func sameRefString(s string, ref Ref) bool {
	var ok bool
	if s, ok = strings.CutPrefix(s, ref.Resource); !ok {
		return false
	}
	if ref.Group != "" {
		if s, ok = strings.CutPrefix(s, "."); !ok {
			return false
		}
		if s, ok = strings.CutPrefix(s, ref.Group); !ok {
			return false
		}
	}
	if ref.Namespace != "" {
		if s, ok = strings.CutPrefix(s, "/"); !ok {
			return false
		}
		if s, ok = strings.CutPrefix(s, ref.Namespace); !ok {
			return false
		}
	}
	return len(s) == len(ref.Name)+1 && s[0] == '/' && s[1:] == ref.Name
}

// maxJSONDepth is encoding/json's nesting limit: Valid refuses deeper
// documents.
const maxJSONDepth = 10000

// jsonInString are the bytes that end the plain run of a JSON string: the
// quote, the backslash and control bytes (invalid inside a string).
var jsonInString = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// fastValidJSON reports whether b is one valid JSON value, as json.Valid
// does (invalid UTF-8 inside strings is accepted by both), but without the
// scanner's call per byte.
func fastValidJSON(b []byte) bool {
	var stackBuf [64]byte
	stack := stackBuf[:0] // '{' or '[' per open container
	i := jsonSkipWS(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if len(stack) >= maxJSONDepth {
				return false
			}
			stack = append(stack, c)
			i = jsonSkipWS(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				if i = jsonObjectKey(b, i); i < 0 {
					return false
				}
			}
			continue
		case c == '"':
			if i = jsonStringEnd(b, i); i < 0 {
				return false
			}
		case c == '-' || c >= '0' && c <= '9':
			if i = jsonNumberEnd(b, i); i < 0 {
				return false
			}
		case c == 't':
			if !jsonHasAt(b, i, "true") {
				return false
			}
			i += 4
		case c == 'f':
			if !jsonHasAt(b, i, "false") {
				return false
			}
			i += 5
		case c == 'n':
			if !jsonHasAt(b, i, "null") {
				return false
			}
			i += 4
		default:
			return false
		}
		// A value ended before i: close containers, or move to the next
		// element or member.
		for {
			i = jsonSkipWS(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			top := stack[len(stack)-1]
			if b[i] == top+2 {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return false
			}
			i = jsonSkipWS(b, i+1)
			if top == '{' {
				if i = jsonObjectKey(b, i); i < 0 {
					return false
				}
			}
			break
		}
	}
}

// jsonObjectKey reads `"key" :` at i and returns where the value starts
// (whitespace skipped), or -1.
func jsonObjectKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = jsonStringEnd(b, i); i < 0 {
		return -1
	}
	i = jsonSkipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return jsonSkipWS(b, i+1)
}

func jsonSkipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

func jsonHasAt(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// jsonStringEnd returns the index after the valid string starting at b[i]
// (a quote), or -1.
func jsonStringEnd(b []byte, i int) int {
	i++
	for {
		for i < len(b) && !jsonInString[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return -1
				}
				for _, h := range b[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return -1
					}
				}
				i += 6
			default:
				return -1
			}
		default: // a control byte
			return -1
		}
	}
}

// jsonNumberEnd returns the index after the valid number starting at b[i], or -1.
func jsonNumberEnd(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return -1
		}
	}
	return i
}
