package audit

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/wakehq/wake/events"
)

// Trust is the set of keys whose signatures Verify accepts: public nkey
// (as ce-wakesigner carries it) → who holds it. Empty, Verify reports
// signatures as not checked instead of failing.
type Trust map[string]Signer

// Signer is one trusted key.
type Signer struct {
	// Name says whose key it is in Verify's findings: a role ("gateway",
	// "controllers"), a node's agent ("agent node-1"), an operator.
	Name string `json:"name"`
	// Subjects, when not empty, are the only subjects (NATS filters with
	// * and >) it may sign: wake.obj.core.pods.> for an agent. Empty is
	// every event subject (wake.obj.>) but not a removal record; an
	// operator who records removals needs audit.RemovalSubject (or >).
	Subjects []string `json:"subjects,omitempty"`
}

// allows reports whether s may sign a message on subject.
func (s Signer) allows(subject string) bool {
	if len(s.Subjects) == 0 {
		return subjectMatches(events.AllSubjects, subject)
	}
	for _, f := range s.Subjects {
		if subjectMatches(f, subject) {
			return true
		}
	}
	return false
}

// subjectMatches reports whether a literal subject matches a NATS filter.
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		switch {
		case f == ">":
			return len(st) > i
		case i >= len(st):
			return false
		case f != "*" && f != st[i]:
			return false
		}
	}
	return len(ft) == len(st)
}

// keys decodes the trusted public keys once.
func (t Trust) keys() (map[string]ed25519.PublicKey, error) {
	out := make(map[string]ed25519.PublicKey, len(t))
	for pub := range t {
		k, err := events.ParseSigner(pub)
		if err != nil {
			return nil, fmt.Errorf("audit: trusted signer: %w", err)
		}
		out[pub] = k
	}
	return out, nil
}
