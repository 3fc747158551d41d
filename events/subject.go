package events

import (
	"errors"
	"fmt"
	"strings"
)

const (
	// StreamName is the JetStream stream that holds every event.
	StreamName = "WAKE"
	// SubjectPrefix starts every object subject.
	SubjectPrefix = "wake.obj."
	// AllSubjects is the filter that matches every object subject; it is
	// also the stream's subject.
	AllSubjects = SubjectPrefix + ">"

	// coreGroup is how the core API group ("") is written in a subject.
	coreGroup = "core"
	// clusterScope is how the namespace of a cluster-scoped object ("") is
	// written in a subject. It is EncodeToken("").
	clusterScope = "_"
	// subjectTokens is the number of tokens of an object subject:
	// wake.obj.<group>.<resource>.<namespace>.<name>.
	subjectTokens = 6
)

// ErrBadSubject is wrapped by every subject or token decoding error.
var ErrBadSubject = errors.New("events: bad subject")

const upperHex = "0123456789ABCDEF"

// rawByte reports whether b is written into a token as itself.
func rawByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-'
}

// EncodeToken writes s as one NATS subject token that can hold no wildcard,
// separator, whitespace or control byte. Bytes in [a-z0-9-] pass through;
// every other byte becomes '_' and two upper-case hex digits ('.' is "_2E",
// '_' is "_5F"). The empty string is "_", which no other input produces
// since an escape is always three bytes. The encoding is canonical: each
// string has exactly one encoding, so one object has exactly one subject.
func EncodeToken(s string) string {
	if s == "" {
		return "_"
	}
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !rawByte(s[i]) {
			n += 2
		}
	}
	if n == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if rawByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0xF])
	}
	return b.String()
}

// DecodeToken reverses EncodeToken. It rejects every token EncodeToken
// cannot produce: bytes outside [a-z0-9-_], truncated escapes, lower-case
// hex, and escapes of bytes that are written raw.
func DecodeToken(tok string) (string, error) {
	if tok == "_" {
		return "", nil
	}
	if tok == "" {
		return "", fmt.Errorf("%w: empty token", ErrBadSubject)
	}
	if !strings.Contains(tok, "_") {
		for i := 0; i < len(tok); i++ {
			if !rawByte(tok[i]) {
				return "", fmt.Errorf("%w: token %q: byte %#x at %d must be escaped", ErrBadSubject, tok, tok[i], i)
			}
		}
		return tok, nil
	}
	out := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case rawByte(c):
			out = append(out, c)
		case c == '_':
			if i+2 >= len(tok) {
				return "", fmt.Errorf("%w: token %q: truncated escape at %d", ErrBadSubject, tok, i)
			}
			hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
			if hi < 0 || lo < 0 {
				return "", fmt.Errorf("%w: token %q: bad escape %q at %d (want _ and two upper-case hex digits)", ErrBadSubject, tok, tok[i:i+3], i)
			}
			v := byte(hi<<4 | lo)
			if rawByte(v) {
				return "", fmt.Errorf("%w: token %q: escape %q at %d encodes %q, which must be written raw", ErrBadSubject, tok, tok[i:i+3], i, v)
			}
			out = append(out, v)
			i += 2
		default:
			return "", fmt.Errorf("%w: token %q: byte %#x at %d must be escaped", ErrBadSubject, tok, c, i)
		}
	}
	return string(out), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// Ref names one object: its API group ("" for core), plural resource,
// namespace ("" when cluster-scoped) and name. It deliberately has no
// version: an object keeps its subject, and so its history, across API
// versions.
type Ref struct {
	Group, Resource, Namespace, Name string
}

// Validate reports whether r can name an object: resource and name are
// required, and the group may not be "core", which is how the core group
// "" is spelled in subjects (Kubernetes API groups other than core contain
// a dot, so no real group collides).
func (r Ref) Validate() error {
	switch {
	case r.Resource == "":
		return fmt.Errorf("events: ref %s: resource is required", r)
	case r.Name == "":
		return fmt.Errorf("events: ref %s: name is required", r)
	case r.Group == coreGroup:
		return fmt.Errorf("events: ref %s: group %q is reserved, use \"\" for the core group", r, coreGroup)
	}
	return nil
}

// Subject is the object's subject,
// wake.obj.<group>.<resource>.<namespace>.<name>, every token encoded with
// EncodeToken, the core group written "core" and an empty namespace "_".
func (r Ref) Subject() string {
	return SubjectPrefix + groupToken(r.Group) + "." + EncodeToken(r.Resource) + "." +
		EncodeToken(r.Namespace) + "." + EncodeToken(r.Name)
}

// String is the human form, resource.group/namespace/name, without the
// ".group" part for the core group and without the namespace part for a
// cluster-scoped object: "deployments.apps/default/web", "nodes/n1".
func (r Ref) String() string {
	var b strings.Builder
	b.Grow(len(r.Group) + len(r.Resource) + len(r.Namespace) + len(r.Name) + 3)
	b.WriteString(r.Resource)
	if r.Group != "" {
		b.WriteByte('.')
		b.WriteString(r.Group)
	}
	if r.Namespace != "" {
		b.WriteByte('/')
		b.WriteString(r.Namespace)
	}
	b.WriteByte('/')
	b.WriteString(r.Name)
	return b.String()
}

func groupToken(g string) string {
	if g == "" {
		return coreGroup
	}
	return EncodeToken(g)
}

// ParseSubject decodes an object subject. It accepts only what
// Ref.Subject produces for a valid Ref: exactly six tokens
// (wake.obj.<group>.<resource>.<namespace>.<name>), each canonically
// encoded.
func ParseSubject(subject string) (Ref, error) {
	if !strings.HasPrefix(subject, SubjectPrefix) {
		return Ref{}, fmt.Errorf("%w: %q does not start with %q", ErrBadSubject, subject, SubjectPrefix)
	}
	toks := strings.Split(subject, ".")
	if len(toks) != subjectTokens {
		return Ref{}, fmt.Errorf("%w: %q has %d tokens, want %d (wake.obj.<group>.<resource>.<namespace>.<name>)",
			ErrBadSubject, subject, len(toks), subjectTokens)
	}
	var (
		ref Ref
		err error
	)
	if toks[2] == coreGroup {
		ref.Group = ""
	} else if ref.Group, err = DecodeToken(toks[2]); err != nil {
		return Ref{}, fmt.Errorf("group: %w", err)
	} else if ref.Group == "" {
		return Ref{}, fmt.Errorf("%w: %q: the core group is written %q", ErrBadSubject, subject, coreGroup)
	}
	if ref.Resource, err = DecodeToken(toks[3]); err != nil {
		return Ref{}, fmt.Errorf("resource: %w", err)
	}
	if ref.Namespace, err = DecodeToken(toks[4]); err != nil {
		return Ref{}, fmt.Errorf("namespace: %w", err)
	}
	if ref.Name, err = DecodeToken(toks[5]); err != nil {
		return Ref{}, fmt.Errorf("name: %w", err)
	}
	if err := ref.Validate(); err != nil {
		return Ref{}, fmt.Errorf("%w: %q: %w", ErrBadSubject, subject, err)
	}
	return ref, nil
}

// FilterSubject is a subject filter for Read and Subscribe. Wildcards go
// only where the caller passes "", and every given value is encoded, so
// no input can widen the filter:
//
//   - resource "": every resource; then group "" means every group.
//   - resource set: group "" means the core group (a resource is only
//     unique within its group).
//   - namespace "": every namespace, and cluster-scoped objects.
//
// FilterSubject("apps", "deployments", "") is "wake.obj.apps.deployments.>",
// FilterSubject("", "pods", "default") is "wake.obj.core.pods.default.>",
// FilterSubject("", "", "") is AllSubjects.
func FilterSubject(group, resource, namespace string) string {
	g, r, ns := "*", "*", "*"
	if resource != "" {
		g, r = groupToken(group), EncodeToken(resource)
	} else if group != "" {
		g = groupToken(group)
	}
	if namespace != "" {
		ns = EncodeToken(namespace)
	}
	toks := []string{g, r, ns, "*"}
	// A run of trailing wildcards collapses into ">" (object subjects
	// always have the same number of tokens, so it matches the same set).
	end := len(toks)
	for end > 0 && toks[end-1] == "*" {
		end--
	}
	if end == len(toks) {
		return SubjectPrefix + strings.Join(toks, ".")
	}
	return SubjectPrefix + strings.Join(append(toks[:end:end], ">"), ".")
}
