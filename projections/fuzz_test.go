package projections

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events"
)

// fuzzMessages turns the fuzzer's bytes into stored messages: chunks
// separated by 0x1f, each a selector byte (which object, type, kind, and
// which header to spoil) and the rest as data, or, with the selector's
// high bit, spliced into a valid object's data. Most messages are close
// to valid events, so the fold's paths past decoding are reached too.
func fuzzMessages(blob []byte) []*nats.Msg {
	names := []string{"a", "b", "c.d"}
	types := []events.Type{events.ObjectCreated, events.ObjectUpdated, events.ObjectDeleted, "io.wake.object.exploded.v9"}
	kinds := []string{"ConfigMap", "Pod", ""}
	var out []*nats.Msg
	for _, chunk := range bytes.Split(blob, []byte{0x1f}) {
		if len(chunk) == 0 || len(out) == 64 {
			continue
		}
		sel, rest := chunk[0], chunk[1:]
		name := names[int(sel)%len(names)]
		typ := types[int(sel>>2)%len(types)]
		kind := kinds[int(sel>>4)%len(kinds)]
		ref := events.Ref{Resource: "configmaps", Namespace: "default", Name: name}
		data := rest
		if sel&0x80 != 0 {
			data = []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":%q,"metadata":{"name":%q,"namespace":"default","labels":{"l":%q}},"data":{"k":%q}}`,
				kind, name, rest, rest))
		}
		h := nats.Header{}
		h.Set(events.HeaderSpecVersion, events.SpecVersion)
		h.Set(events.HeaderID, fmt.Sprintf("id-%d", len(out)))
		h.Set(events.HeaderType, string(typ))
		h.Set(events.HeaderSource, "wake/fuzz")
		h.Set(events.HeaderSubject, ref.String())
		h.Set(events.HeaderTime, time.Date(2026, 1, 1, 0, 0, len(out), 0, time.UTC).Format(time.RFC3339Nano))
		h.Set(events.HeaderContentType, events.ContentType)
		h.Set(events.HeaderActor, "fuzzer")
		h.Set(events.HeaderRequestID, "r")
		h.Set(events.HeaderAPIVersion, "v1")
		h.Set(events.HeaderKind, kind)
		if typ == events.ObjectUpdated {
			h.Set(events.HeaderChange, string(events.ChangeSpec))
		}
		subject := ref.Subject()
		switch sel >> 5 & 3 { // spoil one thing, or nothing
		case 1:
			h.Set([]string{events.HeaderSpecVersion, events.HeaderTime, events.HeaderSubject, events.HeaderChange}[len(rest)%4], string(rest))
		case 2:
			subject = string(rest)
		case 3:
			h = nil
		}
		out = append(out, &nats.Msg{Subject: subject, Header: h, Data: data})
	}
	return out
}

// FuzzFold folds arbitrary messages as the projection does (both
// decoders, quarantining what does not decode) and checks that it never
// panics, that every message moves the sequence on, that the state is the
// fold of the applied events alone (as if the quarantined were absent),
// and that a snapshot reproduces state and record.
//
//	go test ./projections -run '^$' -fuzz FuzzFold -fuzztime 3m
func FuzzFold(f *testing.F) {
	obj := func(name, kind string) string {
		return fmt.Sprintf(`{"apiVersion":"v1","kind":%q,"metadata":{"name":%q,"namespace":"default"}}`, kind, name)
	}
	f.Add([]byte("\x80x\x1f\x84y\x1f\x88z"))                           // create, update, delete of a
	f.Add([]byte("\x84x\x1f\x88y"))                                    // update, delete of a missing object
	f.Add([]byte("\x90x\x1f\xa0x"))                                    // wrong kind in header and data
	f.Add([]byte("\x00" + obj("a", "ConfigMap") + "\x1f\x00not json")) // data as given
	f.Add([]byte("\xe0not an event\x1f\x80ok"))                        // no headers, then an event
	f.Add([]byte("\xc0wake.obj.core.configmaps.default.b\x1f\xc0wake.obj.>\x1f\xc0"))
	f.Add([]byte("\xa00.3\x1f\xa1yesterday\x1f\xa2pods/default/a\x1f\xa3status"))
	f.Add([]byte("\x8c\x1f\x80" + strings.Repeat("\xff", 100)))
	f.Fuzz(func(t *testing.T, blob []byte) {
		msgs := fuzzMessages(blob)
		s, absent := NewState(), NewState()
		var dec events.Decoder
		for i, m := range msgs {
			seq := uint64(2*i + 1) // sequences with gaps, as a filtered read sees them
			ev, err := events.Decode(m.Subject, m.Header, m.Data, seq)
			_, err2 := dec.Decode(m.Subject, m.Header, m.Data, seq)
			if (err == nil) != (err2 == nil) {
				t.Fatalf("message %d: Decode says %v, the Decoder %v", i, err, err2)
			}
			var p Prepared
			if err != nil {
				p = PrepareUndecodable(&events.DecodeError{Seq: seq, Subject: m.Subject, Err: err, Header: m.Header, Data: m.Data})
			} else {
				p = PrepareDecoded(ev)
			}
			before := len(s.quarantined)
			_, applyErr := s.ApplyPrepared(p)
			if s.Seq() != seq {
				t.Fatalf("message %d: the sequence is %d, want %d", i, s.Seq(), seq)
			}
			quarantined := len(s.quarantined) == before+1
			if (applyErr != nil) != quarantined {
				t.Fatalf("message %d: error %v but quarantined %v", i, applyErr, quarantined)
			}
			if !quarantined {
				if _, err := absent.Apply(ev); err != nil {
					t.Fatalf("message %d: applied, but alone it is refused: %v", i, err)
				}
			} else if q := s.quarantined[before]; q.Seq != seq || q.Reason == "" || len(q.Reason) > maxReason+len("…") ||
				strings.Contains(q.Reason, "panicked") { // recovered, but a bug all the same
				t.Fatalf("message %d: record %+v", i, q)
			}
		}
		for _, o := range s.all() {
			if !json.Valid(o.Raw) || !bytes.Contains(o.Raw, []byte(fmt.Sprintf(`"resourceVersion":"%d"`, o.Seq))) {
				t.Fatalf("object %s: %s", o.Ref, o.Raw)
			}
		}
		absent.seq = s.seq
		if s.Hash() != absent.Hash() {
			t.Fatal("the state differs from the fold of the applied events alone")
		}
		var buf bytes.Buffer
		if err := s.WriteSnapshot(&buf); err != nil {
			t.Fatal(err)
		}
		r, err := ReadSnapshot(&buf)
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		if r.Hash() != s.Hash() || fmt.Sprint(r.Quarantined()) != fmt.Sprint(s.Quarantined()) {
			t.Fatal("the snapshot does not reproduce the state and its quarantine record")
		}
	})
}
