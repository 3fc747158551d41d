package events

import (
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATS headers of an event: CloudEvents binary mode (the "ce-" prefix of
// the CloudEvents NATS binding), wake's extensions, and JetStream's
// deduplication id.
const (
	HeaderSpecVersion = "ce-specversion"
	HeaderID          = "ce-id"
	HeaderType        = "ce-type"
	HeaderSource      = "ce-source"
	HeaderSubject     = "ce-subject"
	HeaderTime        = "ce-time"
	HeaderContentType = "content-type"

	HeaderActor      = "ce-" + extActor
	HeaderRequestID  = "ce-" + extRequestID
	HeaderChange     = "ce-" + extChange
	HeaderDetail     = "ce-" + extDetail
	HeaderAPIVersion = "ce-" + extAPIVersion
	HeaderKind       = "ce-" + extKind

	// HeaderMsgID is JetStream's deduplication header; it carries the
	// CloudEvents id.
	HeaderMsgID = jetstream.MsgIDHeader

	// SpecVersion is the CloudEvents version of every event.
	SpecVersion = "1.0"
	// ContentType is the data content type of every event.
	ContentType = "application/json"
)

// CloudEvents extension attribute names (lower-case alphanumerics only).
const (
	extActor      = "wakeactor"
	extRequestID  = "wakerequestid"
	extChange     = "wakechange"
	extDetail     = "wakedetail"
	extAPIVersion = "wakeapiversion"
	extKind       = "wakekind"
)

// Encode is e as the NATS message Append publishes: subject
// e.Ref.Subject(), CloudEvents headers, body e.Data. It validates e,
// including with the CloudEvents SDK; e.Time must be set.
func (e Event) Encode() (*nats.Msg, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	if e.Time.IsZero() {
		return nil, fmt.Errorf("%w: %s %s: time is required", ErrInvalid, e.Type, e.Ref)
	}
	if _, err := e.CloudEvent(); err != nil {
		return nil, err
	}
	h := make(nats.Header, 14)
	h[HeaderSpecVersion] = []string{SpecVersion}
	h[HeaderID] = []string{e.ID}
	h[HeaderType] = []string{string(e.Type)}
	h[HeaderSource] = []string{e.Source}
	h[HeaderSubject] = []string{e.Ref.String()}
	h[HeaderTime] = []string{e.Time.UTC().Format(time.RFC3339Nano)}
	h[HeaderContentType] = []string{ContentType}
	for _, x := range e.extensions() {
		if x.value != "" {
			h["ce-"+x.name] = []string{x.value}
		}
	}
	for k, v := range h {
		if err := headerValueOK(v[0]); err != nil {
			return nil, fmt.Errorf("%w: %s %s: header %s: %w", ErrInvalid, e.Type, e.Ref, k, err)
		}
	}
	h[HeaderMsgID] = []string{e.ID}
	return &nats.Msg{Subject: e.Ref.Subject(), Header: h, Data: e.Data}, nil
}

// headerValueOK reports whether v survives a NATS header round trip
// unchanged: no control bytes (a CR or LF would end the header) and no
// leading blank (the parser strips it).
func headerValueOK(v string) error {
	if v != "" && (v[0] == ' ' || v[0] == '\t') {
		return fmt.Errorf("value %q starts with a blank", v)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("value %q has a control byte at %d", v, i)
		}
	}
	return nil
}

// validSource reports whether s is what the CloudEvents SDK accepts as a
// source: a URI reference that is not blank.
func validSource(s string) bool {
	u, err := url.Parse(s)
	return err == nil && strings.TrimSpace(u.String()) != ""
}

// Decode reads an event from a stored message: its subject, headers, body
// and stream sequence. It checks the CloudEvents spec version, that the
// type is known (ErrUnknownType otherwise, so the caller can skip or stop
// deliberately), that the subject is a valid object subject naming the
// same object as ce-subject, the time, the content type and every field
// Append requires. Other errors wrap ErrInvalid.
func Decode(subject string, hdr nats.Header, data []byte, seq uint64) (ev Event, err error) {
	defer func() {
		// No bytes in the log may crash a reader (ARCHITECTURE.md,
		// decision 11): a panic here is a bug, reported as invalid.
		if r := recover(); r != nil {
			ev, err = Event{}, fmt.Errorf("%w: decoding panicked: %v", ErrInvalid, r)
		}
	}()
	ev, err = decode(subject, hdr, data, seq)
	if errors.Is(err, ErrUnknownType) {
		return Event{}, fmt.Errorf("events: %w", err)
	}
	if err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return ev, nil
}

func decode(subject string, hdr nats.Header, data []byte, seq uint64) (Event, error) {
	if v := hdr.Get(HeaderSpecVersion); v != SpecVersion {
		return Event{}, fmt.Errorf("%s %q, want %q", HeaderSpecVersion, v, SpecVersion)
	}
	typ := Type(hdr.Get(HeaderType))
	if !strings.HasPrefix(string(typ), TypePrefix) {
		return Event{}, fmt.Errorf("%w %q: not a wake event (want prefix %q)", ErrUnknownType, typ, TypePrefix)
	}
	if !typ.Known() {
		return Event{}, fmt.Errorf("%w %q: written by a newer wake?", ErrUnknownType, typ)
	}
	ref, err := ParseSubject(subject)
	if err != nil {
		return Event{}, err
	}
	if s := hdr.Get(HeaderSubject); s != ref.String() {
		return Event{}, fmt.Errorf("%s %q does not match subject %q (%s)", HeaderSubject, s, subject, ref)
	}
	if ct := hdr.Get(HeaderContentType); !isJSON(ct) {
		return Event{}, fmt.Errorf("%s %q, want %q", HeaderContentType, ct, ContentType)
	}
	ts := hdr.Get(HeaderTime)
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Event{}, fmt.Errorf("%s %q: %w", HeaderTime, ts, err)
	}
	ev := Event{
		ID:         hdr.Get(HeaderID),
		Type:       typ,
		Source:     hdr.Get(HeaderSource),
		Time:       t.UTC(),
		Ref:        ref,
		APIVersion: hdr.Get(HeaderAPIVersion),
		Kind:       hdr.Get(HeaderKind),
		Actor:      hdr.Get(HeaderActor),
		RequestID:  hdr.Get(HeaderRequestID),
		Change:     Change(hdr.Get(HeaderChange)),
		Detail:     hdr.Get(HeaderDetail),
		Data:       data,
		Seq:        seq,
		Signer:     hdr.Get(HeaderSigner),
		Signature:  hdr.Get(HeaderSignature),
	}
	if err := ev.validate(); err != nil {
		return Event{}, err
	}
	for _, k := range []string{HeaderID, HeaderSource, HeaderActor, HeaderRequestID, HeaderAPIVersion, HeaderKind} {
		if err := headerValueOK(hdr.Get(k)); err != nil {
			return Event{}, fmt.Errorf("header %s: %w", k, err)
		}
	}
	return ev, nil
}

// isJSON reports whether a content type is application/json, parameters
// allowed.
func isJSON(ct string) bool {
	if ct == ContentType {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == ContentType
}
