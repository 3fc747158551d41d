package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wakehq/wake/events/access"
)

// A join token is read once: the agent stores its credentials, URL, CA
// and node name (mode 0600) and every later start uses them.
func TestAgentJoinOnce(t *testing.T) {
	data, state := t.TempDir(), t.TempDir()
	if _, err := loadAuthority(data); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := runJoin(t.Context(), []string{"--data", data, "--server", "tls://10.1.2.3:4222", "edge-1"}, &out); err == nil {
		t.Fatal("a TLS join without the CA's files worked") // no wake up made pki/ here
	}
	out.Reset()
	if err := runJoin(t.Context(), []string{"--data", data, "--server", "nats://10.1.2.3:4222", "edge-1"}, &out); err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(out.String())

	nf, node := natsFlags{}, "host"
	if err := useJoin(&nf, state, token, &node, false); err != nil {
		t.Fatal(err)
	}
	if node != "edge-1" || nf.url != "nats://10.1.2.3:4222" || nf.creds != filepath.Join(state, joinedCreds) || nf.role != access.Agent {
		t.Fatalf("after join: node %q, flags %+v", node, nf)
	}
	for _, f := range []string{joinedCreds, joinedURL, joinedNode} {
		fi, err := os.Stat(filepath.Join(state, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v", f, fi, err)
		}
	}
	// A later start without the token.
	nf, node = natsFlags{}, "host"
	if err := useJoin(&nf, state, "", &node, false); err != nil {
		t.Fatal(err)
	}
	if node != "edge-1" || nf.creds == "" || nf.url == "" {
		t.Fatalf("restart: node %q, flags %+v", node, nf)
	}
	// Flags given explicitly win; a --node that is not the joined one is
	// an error, not a silent second identity.
	nf, node = natsFlags{url: "nats://other:4222"}, "edge-2"
	if err := useJoin(&nf, state, "", &node, true); err == nil {
		t.Fatal("--node edge-2 on an agent joined as edge-1 started")
	}
	if err := useJoin(&natsFlags{}, t.TempDir(), "wakejoin1.garbage", &node, false); err == nil {
		t.Fatal("a garbage token was taken")
	}
}
