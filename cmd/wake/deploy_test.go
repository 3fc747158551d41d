package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/wakehq/wake/gateway/pki"
)

// The NATS configuration in deploy/ parses, asks for what the guide
// promises, and its systemd units name commands the binary has.
func TestDeployFiles(t *testing.T) {
	for _, kv := range [][2]string{{"NATS_NAME", "nats-1"}, {"WAKE_GATEWAY_PASSWORD", "g"}, {"WAKE_SCHEDULER_PASSWORD", "s"},
		{"WAKE_CONTROLLERS_PASSWORD", "c"}, {"WAKE_AGENT_PASSWORD", "a"}, {"NATS_SYS_PASSWORD", "x"}} {
		t.Setenv(kv[0], kv[1])
	}
	// The servers' TLS files, made here: the configuration loads them.
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServerCert("nats-1")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	os.WriteFile(filepath.Join(dir, "server.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(filepath.Join(dir, "server.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	conf, err := os.ReadFile("../../deploy/nats/nats-server.conf")
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nats-server.conf")
	os.WriteFile(confPath, []byte(strings.ReplaceAll(string(conf), "/etc/nats/tls/", dir+"/")), 0o600)
	opts, err := server.ProcessConfigFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	if !opts.JetStream || !opts.SyncAlways || opts.Cluster.Name != "wake" || len(opts.Routes) != 3 {
		t.Fatalf("jetstream %v sync always %v cluster %q routes %d", opts.JetStream, opts.SyncAlways, opts.Cluster.Name, len(opts.Routes))
	}
	if opts.TLSConfig == nil || opts.Cluster.TLSConfig == nil {
		t.Fatal("TLS to clients and between servers must be on")
	}
	if opts.MaxPayload < 4<<20 {
		t.Fatalf("max_payload %d is below wake's largest event", opts.MaxPayload)
	}
	users := map[string]bool{}
	for _, u := range opts.Users {
		if u.Account != nil && u.Account.Name == "WAKE" {
			users[u.Username] = true
		}
	}
	for _, role := range []string{"gateway", "scheduler", "controllers", "agent"} {
		if !users[role] {
			t.Errorf("no NATS user for the %s role", role)
		}
	}
	units, _ := filepath.Glob("../../deploy/systemd/wake-*.service")
	if len(units) != 4 {
		t.Fatalf("%d wake units, want 4", len(units))
	}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "ExecStart=/usr/local/bin/wake "); ok {
				if name := strings.Fields(rest)[0]; name != "agent" && commands[name].run == nil {
					t.Errorf("%s runs `wake %s`, which does not exist", u, name)
				}
			}
		}
	}
}
