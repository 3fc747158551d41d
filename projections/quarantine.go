package projections

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
)

// Quarantined is one message of the log the fold could not apply: it does
// not decode, or it decodes but cannot be the next event of its object
// (data that is not an object of that name, a kind that is not the
// subject's, an update or a delete of an object that does not exist). The
// fold records it and goes on as if it were absent; the record is part of
// the state, so every replay of the same log quarantines the same
// messages for the same reasons.
type Quarantined struct {
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"` // as stored; it may not parse
	Reason  string `json:"reason"`
}

// maxReason bounds a recorded reason, which may quote the bad message.
const maxReason = 512

// Ref is the object the message's subject names, if it names one.
func (q Quarantined) Ref() (events.Ref, bool) {
	ref, err := events.ParseSubject(q.Subject)
	return ref, err == nil
}

// QuarantineError is the error State.Apply returns for a message it
// quarantined.
type QuarantineError struct{ Quarantined }

func (e *QuarantineError) Error() string {
	return fmt.Sprintf("event %d on %q quarantined: %s", e.Seq, e.Subject, e.Reason)
}

// PrepareUndecodable is the Prepared form of a message that does not
// decode: applying it quarantines it.
func PrepareUndecodable(de *events.DecodeError) Prepared {
	return Prepared{Event: events.Event{Seq: de.Seq}, Err: de.Err, subject: de.Subject, undecodable: true}
}

// quarantine records the message at seq (already the state's sequence)
// and returns the error that says so.
func (s *State) quarantine(seq uint64, subject string, err error) error {
	q := Quarantined{Seq: seq, Subject: clean(subject, 256), Reason: clean(err.Error(), maxReason)}
	s.quarantined = append(s.quarantined, q)
	return &QuarantineError{q}
}

// clean makes s safe to keep and show: valid UTF-8, at most n bytes.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Quarantined lists the messages the fold quarantined, by sequence. The
// slice is shared: do not modify it.
func (s *State) Quarantined() []Quarantined {
	return s.quarantined[:len(s.quarantined):len(s.quarantined)]
}

// CheckKind is the fold's check of an event's kind (see checkKind), for
// readers that build objects outside the fold (time travel).
func CheckKind(ev events.Event) error { return checkKind(ev) }

// checkKind refuses an event whose kind is not the one its subject's
// resource holds (for the kinds wake serves), or whose data says another
// kind than its header. Events without a kind header (built in tests,
// never decoded from the log, which requires one) are not checked.
func checkKind(ev events.Event) error {
	if ev.Kind == "" {
		return nil
	}
	if k, ok := kinds.ByResource(ev.Ref.Group, ev.Ref.Resource); ok && k.Kind != ev.Kind {
		return fmt.Errorf("kind %q is not the kind of %s (%s)", ev.Kind, ev.Ref.Resource, k.Kind)
	}
	return nil
}

// dataKindOK reports whether the data's kind member (raw JSON, if any)
// agrees with the event's kind header; a data without a kind, or an event
// without a header, agrees.
func dataKindOK(raw []byte, kind string) bool {
	if raw == nil || kind == "" || string(raw) == "null" {
		return true
	}
	var s string
	if len(raw) >= 2 && raw[0] == '"' && !strings.ContainsRune(string(raw), '\\') {
		s = string(raw[1 : len(raw)-1])
	} else if err := json.Unmarshal(raw, &s); err != nil {
		return false
	}
	return s == "" || s == kind
}
