package access_test

import (
	"strings"
	"testing"

	"github.com/wakehq/wake/events/access"
)

func joinFor(t testing.TB, node string) access.Join {
	a, err := access.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.Issue(access.Agent, node, "agent "+node)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := u.Creds()
	if err != nil {
		t.Fatal(err)
	}
	return access.Join{Node: node, Servers: "tls://10.0.0.1:4222", Creds: string(creds)}
}

func TestJoinToken(t *testing.T) {
	j := joinFor(t, "n2")
	token, err := j.Token()
	if err != nil {
		t.Fatal(err)
	}
	got, err := access.ParseJoinToken(" " + token + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got != j {
		t.Fatalf("round trip: %+v, want %+v", got, j)
	}
	admin := j
	a, _ := access.LoadOrCreate(t.TempDir())
	u, _ := a.Issue(access.Admin, "", "admin")
	creds, _ := u.Creds()
	admin.Creds = string(creds)
	other := j
	other.Node = "n3"
	for name, bad := range map[string]access.Join{
		"admin credentials":        admin,
		"another node's":           other,
		"no servers":               {Node: "n2", Creds: j.Creds},
		"a server with a password": {Node: "n2", Servers: "nats://u:p@h:4222", Creds: j.Creds},
		"an http server":           {Node: "n2", Servers: "http://h:4222", Creds: j.Creds},
		"a CA that is not one":     {Node: "n2", Servers: j.Servers, Creds: j.Creds, CA: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
		"a wildcard node":          {Node: "*", Servers: j.Servers, Creds: j.Creds},
	} {
		if _, err := bad.Token(); err == nil {
			t.Errorf("%s: made a token", name)
		}
	}
	for _, bad := range []string{"", "wakejoin1.", "wakejoin1.!!!", "wakejoin2." + strings.TrimPrefix(token, "wakejoin1."),
		"wakejoin1.e30", strings.Repeat("a", 70000)} {
		if _, err := access.ParseJoinToken(bad); err == nil {
			t.Errorf("ParseJoinToken(%.40q) accepted", bad)
		}
	}
}

// Whatever a join token holds, parsing it never panics, and what it
// accepts makes the same token again.
func FuzzParseJoinToken(f *testing.F) {
	token, err := joinFor(f, "n1").Token()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(token)
	f.Add("wakejoin1.e30")
	f.Add("wakejoin1.eyJub2RlIjoibjEifQ")
	f.Fuzz(func(t *testing.T, s string) {
		j, err := access.ParseJoinToken(s)
		if err != nil {
			return
		}
		again, err := j.Token()
		if err != nil {
			t.Fatalf("accepted %q but cannot remake it: %v", s, err)
		}
		if j2, err := access.ParseJoinToken(again); err != nil || j2 != j {
			t.Fatalf("remade token does not parse back: %v", err)
		}
	})
}
