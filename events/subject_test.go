package events

import (
	"errors"
	"strings"
	"testing"
)

func TestEncodeToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "_"},
		{"web-0", "web-0"},
		{"kube-root-ca.crt", "kube-root-ca_2Ecrt"},
		{"networking.k8s.io", "networking_2Ek8s_2Eio"},
		{"a_b", "a_5Fb"},
		{"_", "_5F"},
		{"*", "_2A"},
		{">", "_3E"},
		{"a.*.>", "a_2E_2A_2E_3E"},
		{"has space", "has_20space"},
		{"tab\tnl\n", "tab_09nl_0A"},
		{"Upper", "_55pper"},
		{"é", "_C3_A9"},
		{"日", "_E6_97_A5"},
		{"\x00\xff", "_00_FF"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := EncodeToken(tt.in)
			if got != tt.want {
				t.Fatalf("EncodeToken(%q) = %q, want %q", tt.in, got, tt.want)
			}
			back, err := DecodeToken(got)
			if err != nil || back != tt.in {
				t.Fatalf("DecodeToken(%q) = %q, %v, want %q", got, back, err, tt.in)
			}
		})
	}
}

func TestDecodeTokenErrors(t *testing.T) {
	for _, tok := range []string{
		"",       // empty token is not a token
		"__",     // truncated escape
		"a_2",    // truncated escape
		"_2e",    // lower-case hex
		"_G0",    // not hex
		"_61",    // 'a' must be raw: not canonical
		"_2D",    // '-' must be raw
		"A",      // upper case must be escaped
		"a.b",    // separator
		"*", ">", // wildcards
		"a b", // space
	} {
		if got, err := DecodeToken(tok); !errors.Is(err, ErrBadSubject) {
			t.Errorf("DecodeToken(%q) = %q, %v, want ErrBadSubject", tok, got, err)
		}
	}
}

func TestRef(t *testing.T) {
	tests := []struct {
		ref           Ref
		subject, text string
	}{
		{Ref{"apps", "deployments", "default", "web"}, "wake.obj.apps.deployments.default.web", "deployments.apps/default/web"},
		{Ref{"", "pods", "default", "web-0"}, "wake.obj.core.pods.default.web-0", "pods/default/web-0"},
		{Ref{"", "configmaps", "kube-system", "kube-root-ca.crt"}, "wake.obj.core.configmaps.kube-system.kube-root-ca_2Ecrt", "configmaps/kube-system/kube-root-ca.crt"},
		{Ref{"", "nodes", "", "n1"}, "wake.obj.core.nodes._.n1", "nodes/n1"},
		{Ref{"networking.k8s.io", "ingresses", "ns", "a*b>c"}, "wake.obj.networking_2Ek8s_2Eio.ingresses.ns.a_2Ab_3Ec", "ingresses.networking.k8s.io/ns/a*b>c"},
		{Ref{"", "pods", "ns", "with space"}, "wake.obj.core.pods.ns.with_20space", "pods/ns/with space"},
		{Ref{"", "pods", "ns", "ünï"}, "wake.obj.core.pods.ns._C3_BCn_C3_AF", "pods/ns/ünï"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			if got := tt.ref.Subject(); got != tt.subject {
				t.Errorf("Subject() = %q, want %q", got, tt.subject)
			}
			if got := tt.ref.String(); got != tt.text {
				t.Errorf("String() = %q, want %q", got, tt.text)
			}
			got, err := ParseSubject(tt.subject)
			if err != nil || got != tt.ref {
				t.Errorf("ParseSubject(%q) = %+v, %v, want %+v", tt.subject, got, err, tt.ref)
			}
		})
	}
}

func TestParseSubjectErrors(t *testing.T) {
	for _, s := range []string{
		"",
		"wake.obj",
		"wake.obj.core.pods.default",         // 5 tokens
		"wake.obj.core.pods.default.a.b",     // 7 tokens
		"other.obj.core.pods.default.a",      // prefix
		"wake.obj.core.pods.default.*",       // wildcard
		"wake.obj.core.pods.default.>",       // wildcard
		"wake.obj.core.pods.default.",        // empty token
		"wake.obj.core.pods.default._61",     // non-canonical escape of 'a'
		"wake.obj.core.pods.default.A",       // raw upper case
		"wake.obj.core.pods.default._",       // empty name
		"wake.obj.core._.default.a",          // empty resource
		"wake.obj._.pods.default.a",          // core group spelled as empty token
		"wake.obj.c_6Fre.pods.default.a",     // non-canonical "core"
		"wake.obj.core.pods.default.a b",     // space
		"wake.obj.core.pods.default.a_2",     // truncated escape
		"wake.obj.core.pods.default.a\x00",   // control byte
		"wake.obj.core.pods.default.ab_2e",   // lower-case hex
		"wake.obj.core.pods..a",              // empty namespace token
		"wake.obj.core.pods.default.web\r\n", // header injection attempt
	} {
		if ref, err := ParseSubject(s); !errors.Is(err, ErrBadSubject) {
			t.Errorf("ParseSubject(%q) = %+v, %v, want ErrBadSubject", s, ref, err)
		}
	}
}

func TestRefValidate(t *testing.T) {
	for _, r := range []Ref{
		{Resource: "pods", Namespace: "ns"},
		{Name: "a"},
		{Group: "core", Resource: "pods", Name: "a"},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v.Validate() = nil, want error", r)
		}
	}
}

func TestFilterSubject(t *testing.T) {
	tests := []struct{ group, resource, namespace, want string }{
		{"", "", "", "wake.obj.>"},
		{"apps", "deployments", "", "wake.obj.apps.deployments.>"},
		{"apps", "deployments", "default", "wake.obj.apps.deployments.default.>"},
		{"", "pods", "", "wake.obj.core.pods.>"},
		{"", "pods", "kube-system", "wake.obj.core.pods.kube-system.>"},
		{"apps", "", "", "wake.obj.apps.>"},
		{"apps", "", "ns", "wake.obj.apps.*.ns.>"},
		{"", "", "ns", "wake.obj.*.*.ns.>"},
		{"networking.k8s.io", "ingresses", "", "wake.obj.networking_2Ek8s_2Eio.ingresses.>"},
		{"", "pods", "*", "wake.obj.core.pods._2A.>"},
		{"", "pods", ">", "wake.obj.core.pods._3E.>"},
		{"", "*", "", "wake.obj.core._2A.>"},
		{"", "pods", "a.b", "wake.obj.core.pods.a_2Eb.>"},
	}
	for _, tt := range tests {
		if got := FilterSubject(tt.group, tt.resource, tt.namespace); got != tt.want {
			t.Errorf("FilterSubject(%q, %q, %q) = %q, want %q", tt.group, tt.resource, tt.namespace, got, tt.want)
		}
	}
}

// FuzzToken: arbitrary bytes round-trip, and an encoded token is one
// token that cannot be a wildcard or break the protocol.
func FuzzToken(f *testing.F) {
	for _, s := range []string{"", "a", "kube-root-ca.crt", "*", ">", "_", "_2E", " \t\r\n", "日本", "\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := EncodeToken(s)
		if tok == "" {
			t.Fatalf("EncodeToken(%q) is empty", s)
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 'A' && c <= 'F') {
				t.Fatalf("EncodeToken(%q) = %q has byte %q", s, tok, c)
			}
		}
		if strings.ContainsAny(tok, ".*> \t\r\n") {
			t.Fatalf("EncodeToken(%q) = %q is not a single literal token", s, tok)
		}
		back, err := DecodeToken(tok)
		if err != nil || back != s {
			t.Fatalf("DecodeToken(EncodeToken(%q)) = %q, %v", s, back, err)
		}
		// Decoding arbitrary input: anything accepted is canonical.
		if dec, err := DecodeToken(s); err == nil && EncodeToken(dec) != s {
			t.Fatalf("DecodeToken(%q) = %q, which encodes to %q", s, dec, EncodeToken(dec))
		}
	})
}

// FuzzParseSubject: a subject is accepted only if it is exactly what
// Ref.Subject produces for the parsed ref, and ParseSubject inverts
// Ref.Subject for any valid ref.
func FuzzParseSubject(f *testing.F) {
	f.Add("wake.obj.core.pods.default.web-0", "", "pods", "default", "web-0")
	f.Add("wake.obj.apps.deployments._.a_2Eb", "networking.k8s.io", "ingresses", "", "a.b")
	f.Add("wake.obj.core.pods.default.*", "core", "*", ">", "a b")
	f.Fuzz(func(t *testing.T, subject, group, resource, namespace, name string) {
		if ref, err := ParseSubject(subject); err == nil {
			if ref.Subject() != subject {
				t.Fatalf("ParseSubject(%q) = %+v, whose subject is %q", subject, ref, ref.Subject())
			}
			if ref.Validate() != nil {
				t.Fatalf("ParseSubject(%q) = invalid %+v", subject, ref)
			}
		}
		ref := Ref{group, resource, namespace, name}
		if ref.Validate() != nil {
			return
		}
		s := ref.Subject()
		if strings.Count(s, ".") != subjectTokens-1 || strings.ContainsAny(s, "*> \t\r\n") {
			t.Fatalf("%+v.Subject() = %q", ref, s)
		}
		got, err := ParseSubject(s)
		if err != nil || got != ref {
			t.Fatalf("ParseSubject(%q) = %+v, %v, want %+v", s, got, err, ref)
		}
	})
}
