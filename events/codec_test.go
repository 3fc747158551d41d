package events

import (
	"bytes"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func testEvent(ref Ref) Event {
	return Event{
		ID:         NewID(),
		Type:       ObjectCreated,
		Source:     "wake/test",
		Time:       time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC),
		Ref:        ref,
		APIVersion: "v1",
		Kind:       "ConfigMap",
		Actor:      "system:admin",
		RequestID:  "req-1",
		Data:       []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`),
	}
}

var cmRef = Ref{Resource: "configmaps", Namespace: "kube-system", Name: "kube-root-ca.crt"}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	upd := testEvent(Ref{Group: "apps", Resource: "deployments", Namespace: "default", Name: "web"})
	upd.Type, upd.Change, upd.APIVersion, upd.Kind = ObjectUpdated, ChangeScale, "apps/v1", "Deployment"
	node := testEvent(Ref{Resource: "nodes", Name: "n1"})
	node.Type, node.Kind = ObjectDeleted, "Node"
	odd := testEvent(Ref{Resource: "configmaps", Namespace: "ns", Name: "a*b>c d.é"})
	odd.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)) // decoded as UTC
	for _, ev := range []Event{testEvent(cmRef), upd, node, odd} {
		t.Run(ev.Ref.String(), func(t *testing.T) {
			msg, err := ev.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if msg.Subject != ev.Ref.Subject() || !bytes.Equal(msg.Data, ev.Data) {
				t.Fatalf("msg %q %s", msg.Subject, msg.Data)
			}
			for k, want := range map[string]string{
				HeaderSpecVersion: "1.0", HeaderID: ev.ID, HeaderMsgID: ev.ID, HeaderType: string(ev.Type),
				HeaderSubject: ev.Ref.String(), HeaderContentType: "application/json",
				HeaderActor: ev.Actor, HeaderRequestID: ev.RequestID, HeaderChange: string(ev.Change),
				HeaderAPIVersion: ev.APIVersion, HeaderKind: ev.Kind,
				HeaderTime: ev.Time.UTC().Format(time.RFC3339Nano),
			} {
				if got := msg.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			// Through the wire format, as a stored message would come back.
			hdr := wireHeader(t, msg)
			got, err := Decode(msg.Subject, hdr, msg.Data, 42)
			if err != nil {
				t.Fatal(err)
			}
			want := ev
			want.Seq = 42
			want.Time = ev.Time.UTC()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Decode = %+v\nwant     %+v", got, want)
			}
		})
	}
}

// wireHeader sends msg's headers through NATS's header encoding.
func wireHeader(t *testing.T, msg *nats.Msg) nats.Header {
	t.Helper()
	var b strings.Builder
	b.WriteString("NATS/1.0\r\n")
	for k, vs := range msg.Header {
		for _, v := range vs {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	h, err := nats.DecodeHeadersMsg([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCloudEvent(t *testing.T) {
	ev := testEvent(cmRef)
	ce, err := ev.CloudEvent()
	if err != nil {
		t.Fatal(err)
	}
	if ce.SpecVersion() != "1.0" || ce.ID() != ev.ID || ce.Type() != string(ev.Type) ||
		ce.Source() != ev.Source || ce.Subject() != ev.Ref.String() || !ce.Time().Equal(ev.Time) ||
		ce.DataContentType() != "application/json" || !bytes.Equal(ce.Data(), ev.Data) {
		t.Fatalf("CloudEvent() = %v", ce)
	}
	for name, want := range map[string]string{"wakeactor": ev.Actor, "wakerequestid": ev.RequestID, "wakeapiversion": "v1", "wakekind": "ConfigMap"} {
		if got := ce.Extensions()[name]; got != want {
			t.Errorf("extension %s = %v, want %q", name, got, want)
		}
	}
	// Structured mode shows data as JSON, not base64.
	js, err := ce.MarshalJSON()
	if err != nil || !bytes.Contains(js, []byte(`"data":{"apiVersion":"v1"`)) {
		t.Fatalf("MarshalJSON = %s, %v", js, err)
	}
}

func TestEncodeInvalid(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Event)
	}{
		{"no id", func(e *Event) { e.ID = "" }},
		{"blank id", func(e *Event) { e.ID = "\u00a0" }},
		{"unknown type", func(e *Event) { e.Type = "io.wake.object.created.v2" }},
		{"no source", func(e *Event) { e.Source = "" }},
		{"bad source", func(e *Event) { e.Source = "%zz" }},
		{"no time", func(e *Event) { e.Time = time.Time{} }},
		{"no actor", func(e *Event) { e.Actor = "" }},
		{"no request id", func(e *Event) { e.RequestID = "" }},
		{"no kind", func(e *Event) { e.Kind = "" }},
		{"no apiVersion", func(e *Event) { e.APIVersion = "" }},
		{"no name", func(e *Event) { e.Ref.Name = "" }},
		{"group core", func(e *Event) { e.Ref.Group = "core" }},
		{"change on create", func(e *Event) { e.Change = ChangeSpec }},
		{"update without change", func(e *Event) { e.Type = ObjectUpdated }},
		{"unknown change", func(e *Event) { e.Type, e.Change = ObjectUpdated, "other" }},
		{"no data", func(e *Event) { e.Data = nil }},
		{"bad json", func(e *Event) { e.Data = []byte("{") }},
		{"header injection in actor", func(e *Event) { e.Actor = "bob\r\nce-wakeactor: admin" }},
		{"control byte in name", func(e *Event) { e.Ref.Name = "a\nb" }},
		{"leading blank", func(e *Event) { e.RequestID = " r" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := testEvent(cmRef)
			tt.mod(&ev)
			if msg, err := ev.Encode(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Encode = %v, %v, want ErrInvalid", msg, err)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good, err := testEvent(cmRef).Encode()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		subject string
		mod     func(nats.Header)
		data    string
		want    error
	}{
		{"spec version", "", func(h nats.Header) { h.Set(HeaderSpecVersion, "0.3") }, "", ErrInvalid},
		{"no spec version", "", func(h nats.Header) { h.Del(HeaderSpecVersion) }, "", ErrInvalid},
		{"future type", "", func(h nats.Header) { h.Set(HeaderType, "io.wake.object.created.v2") }, "", ErrUnknownType},
		{"foreign type", "", func(h nats.Header) { h.Set(HeaderType, "com.example.thing") }, "", ErrUnknownType},
		{"bad subject", "wake.obj.core.configmaps.kube-system", nil, "", ErrBadSubject},
		{"subject mismatch", "wake.obj.core.configmaps.kube-system.other", nil, "", ErrInvalid},
		{"ce-subject mismatch", "", func(h nats.Header) { h.Set(HeaderSubject, "configmaps/default/x") }, "", ErrInvalid},
		{"no actor", "", func(h nats.Header) { h.Del(HeaderActor) }, "", ErrInvalid},
		{"no request id", "", func(h nats.Header) { h.Del(HeaderRequestID) }, "", ErrInvalid},
		{"no id", "", func(h nats.Header) { h.Del(HeaderID) }, "", ErrInvalid},
		{"bad time", "", func(h nats.Header) { h.Set(HeaderTime, "yesterday") }, "", ErrInvalid},
		{"no time", "", func(h nats.Header) { h.Del(HeaderTime) }, "", ErrInvalid},
		{"content type", "", func(h nats.Header) { h.Set(HeaderContentType, "text/plain") }, "", ErrInvalid},
		{"bad data", "", nil, "{", ErrInvalid},
		{"no data", "", nil, "-", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := maps.Clone(good.Header)
			if tt.mod != nil {
				tt.mod(h)
			}
			subject, data := good.Subject, good.Data
			if tt.subject != "" {
				subject = tt.subject
			}
			switch tt.data {
			case "":
			case "-":
				data = nil
			default:
				data = []byte(tt.data)
			}
			ev, err := Decode(subject, h, data, 1)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %+v, %v, want %v", ev, err, tt.want)
			}
			if tt.want == ErrUnknownType && errors.Is(err, ErrInvalid) {
				t.Fatalf("unknown type also matches ErrInvalid: %v", err)
			}
		})
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts encodes back
// to an equal event.
func FuzzDecode(f *testing.F) {
	good, err := testEvent(cmRef).Encode()
	if err != nil {
		f.Fatal(err)
	}
	h := good.Header
	f.Add(good.Subject, h.Get(HeaderSpecVersion), h.Get(HeaderID), h.Get(HeaderType), h.Get(HeaderSource),
		h.Get(HeaderSubject), h.Get(HeaderTime), h.Get(HeaderContentType), h.Get(HeaderActor),
		h.Get(HeaderRequestID), h.Get(HeaderChange), h.Get(HeaderAPIVersion), h.Get(HeaderKind), good.Data)
	f.Add("wake.obj.apps.deployments.ns.a_2Eb", "1.0", "id", string(ObjectUpdated), "wake/x",
		"deployments.apps/ns/a.b", "2026-01-01T00:00:00+01:00", "application/json; charset=utf-8", "a",
		"r", "status", "apps/v1", "Deployment", []byte(`[]`))
	f.Fuzz(func(t *testing.T, subject, spec, id, typ, source, cesubject, ts, ct, actor, reqID, change, apiVersion, kind string, data []byte) {
		hdr := nats.Header{}
		for k, v := range map[string]string{
			HeaderSpecVersion: spec, HeaderID: id, HeaderType: typ, HeaderSource: source,
			HeaderSubject: cesubject, HeaderTime: ts, HeaderContentType: ct, HeaderActor: actor,
			HeaderRequestID: reqID, HeaderChange: change, HeaderAPIVersion: apiVersion, HeaderKind: kind,
		} {
			if v != "" {
				hdr.Set(k, v)
			}
		}
		ev, err := Decode(subject, hdr, data, 7)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("Decode error %v matches neither ErrInvalid nor ErrUnknownType", err)
			}
			return
		}
		msg, err := ev.Encode()
		if err != nil {
			t.Fatalf("Decode accepted %+v, which Encode rejects: %v", ev, err)
		}
		again, err := Decode(msg.Subject, msg.Header, msg.Data, 7)
		if err != nil || !reflect.DeepEqual(again, ev) {
			t.Fatalf("re-decode = %+v, %v, want %+v", again, err, ev)
		}
	})
}
