package events

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

var jsonSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-12.5E-3`, `true`, `false`, `null`,
	` {"a" : [1, 2, {"b": null}], "c": "d\u00e9\n\"x\""} `,
	`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":}`, `{,}`, `[,1]`, `01`, `1.`, `.5`, `1e`, `-`, `--1`, `+1`,
	`"\x"`, `"\u12G4"`, "\"a\tb\"", `"abc`, `{"a":1`, `[1 2]`, `{"a":1 "b":2}`, `tru`, `nul`, `falsey`,
	`{} {}`, `[]]`, `{]`, `[}`, "\"\xff\xfe\"", `{"a":"<&>"}`, `[[[[[[]]]]]]`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), `{"a":{"b":{"c":[true,false,null,"x",-1.0e-1]}}}`,
}

// fastValidJSON must never accept what json.Valid refuses (Decode would
// then accept an event it refuses); it should agree everywhere.
func FuzzFastValidJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := fastValidJSON(b), json.Valid(b); got != want {
			t.Fatalf("fastValidJSON(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func TestFastValidJSONSeeds(t *testing.T) {
	for _, s := range jsonSeeds {
		if got, want := fastValidJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("fastValidJSON(%.40q) = %v, json.Valid says %v", s, got, want)
		}
	}
}

// decoderInput is an encoded event with one header or the subject
// replaced, as the fuzzer chooses.
func decoderInput(field, value string) (string, nats.Header, []byte) {
	ev := Event{ID: "00000000-0000-4000-8000-000000000001", Type: ObjectUpdated, Change: ChangeSpec, Source: "wake/gateway",
		Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Ref: Ref{Group: "apps", Resource: "deployments", Namespace: "team.a", Name: "web"},
		APIVersion: "apps/v1", Kind: "Deployment", Actor: "admin", RequestID: "r-1", Detail: `{"why":"test"}`,
		Data: []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"team.a"}}`)}
	m, err := ev.Encode()
	if err != nil {
		panic(err)
	}
	switch field {
	case "":
	case "subject":
		m.Subject = value
	case "data":
		m.Data = []byte(value)
	default:
		if value == "<absent>" {
			delete(m.Header, field)
		} else {
			m.Header[field] = []string{value}
		}
	}
	return m.Subject, m.Header, m.Data
}

// FuzzDecoder checks that Decoder.Decode and Decode agree on every input:
// the same event, or the same error.
func FuzzDecoder(f *testing.F) {
	fields := []string{"", "subject", "data", HeaderSpecVersion, HeaderID, HeaderType, HeaderSource, HeaderSubject, HeaderTime,
		HeaderContentType, HeaderActor, HeaderRequestID, HeaderChange, HeaderDetail, HeaderAPIVersion, HeaderKind, "Ce-Type"}
	values := []string{"", "<absent>", " x", "x\r", "1.0", "0.3", string(ObjectCreated), string(ObjectDeleted), "io.wake.object.created.v9",
		"wake.obj.core.pods.default.web", "wake.obj.core.pods._.web", "wake.obj._.pods.default.web", "wake.obj.core._.default.web",
		"wake.obj.apps.deployments.team_2Ea.web", "wake.obj.apps.deployments.team.a.web", "wake.obj.Apps.deployments.x.web",
		"wake.obj.core.pods.default", "wake.obj.core.pods.default.web.x", "wake.obj.core.pods.default._", "wake.obj.core.pods.default.",
		"pods/default/web", "deployments.apps/team.a/web", "deployments.apps/team.a/webx", "deployments.apps/web",
		"2026-01-02T03:04:05Z", "2026-01-02T03:04:05+02:00", "yesterday", "application/json; charset=utf-8", "text/plain",
		"spec", "status", "bogus", "::not a uri", "wake/scheduler", "https://example.com/x", `{"a":1}`, `{"a":`, "[]", "null",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"}}`, "\t{ }\n"}
	for _, fl := range fields {
		for _, v := range values {
			f.Add(fl, v)
		}
	}
	f.Fuzz(func(t *testing.T, field, value string) {
		subject, hdr, data := decoderInput(field, value)
		want, wantErr := Decode(subject, hdr, data, 42)
		var raw Decoder // fast itself must not panic (Decode would hide it)
		raw.fast(subject, hdr, data, 42)
		var d Decoder
		for range 2 { // the second time with the source remembered
			got, err := d.Decode(subject, hdr, data, 42)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s=%q:\nDecoder: %+v %v\nDecode:  %+v %v", field, value, got, err, want, wantErr)
			}
		}
	})
}
