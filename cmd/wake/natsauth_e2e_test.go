package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/access"
)

// An attacker on this machine, against `wake up` as the README starts
// it: the embedded NATS server refuses anonymous and foreign clients,
// each role's credentials do only the role's work (no purge), a node's
// credentials cannot write another node, and the CLI finds the local
// credentials without flags.
func TestNATSRefusesStrangers(t *testing.T) {
	dir := t.TempDir()
	c := startWakeWith(t, upConfig{dataDir: dir, listen: "127.0.0.1:0", natsListen: "127.0.0.1:0"})
	url := localNATSURL(dir)
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("nats-url %q", url)
	}
	ctx := t.Context()

	if nc, err := nats.Connect(url); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("anonymous connect: %v, want an authorization violation", err)
	}
	if nc, err := nats.Connect(url, nats.UserInfo("admin", "admin")); err == nil {
		nc.Close()
		t.Fatal("a guessed user and password connected")
	}

	admin := natsFlags{url: url, dataDir: dir}
	anc, err := admin.connect("test admin")
	if err != nil {
		t.Fatal(err)
	}
	defer anc.Close()
	ajs, _ := jetstream.New(anc)
	wake, err := ajs.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	before, err := wake.Info(ctx)
	if err != nil || before.State.Msgs == 0 {
		t.Fatalf("stream WAKE: %+v, %v", before, err)
	}

	// No role but admin may purge or delete the log.
	for _, role := range []access.Role{access.Gateway, access.Scheduler, access.Controllers} {
		rf := natsFlags{url: url, dataDir: dir, role: role}
		nc, err := rf.connect("test " + string(role))
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		s, err := js.Stream(ctx, events.StreamName)
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := s.Purge(pctx); err == nil {
			t.Errorf("%s purged the log", role)
		}
		if err := s.DeleteMsg(pctx, 1); err == nil {
			t.Errorf("%s deleted event 1", role)
		}
		cancel()
		nc.Close()
	}
	after, err := wake.Info(ctx)
	if err != nil || after.State.FirstSeq != before.State.FirstSeq || after.State.Msgs < before.State.Msgs {
		t.Fatalf("the log lost events: before %+v, after %+v (%v)", before.State, after.State, err)
	}

	// A joined node writes its own Node, never another's.
	var out strings.Builder
	if err := runJoin(ctx, []string{"--data", dir, "n9"}, &out); err != nil {
		t.Fatal(err)
	}
	j, err := access.ParseJoinToken(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if j.Node != "n9" || j.Servers != url {
		t.Fatalf("join token for %s at %s, want n9 at %s", j.Node, j.Servers, url)
	}
	credsFile := filepath.Join(t.TempDir(), "n9.creds")
	if err := os.WriteFile(credsFile, []byte(j.Creds), 0o600); err != nil {
		t.Fatal(err)
	}
	agentFlags := natsFlags{url: url, creds: credsFile, role: access.Agent, node: "n9"}
	nnc, err := agentFlags.connect("test agent n9")
	if err != nil {
		t.Fatal(err)
	}
	defer nnc.Close()

	// A gateway asks the node (as for logs or exec): the agent answers,
	// and the gateway reaches the agent's own inbox (a session's control
	// subject) in return.
	control := make(chan string, 1)
	ctl, err := nnc.Subscribe(nnc.NewInbox(), func(m *nats.Msg) { control <- string(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ctl.Subject, access.InboxPrefix("n9")+".") {
		t.Errorf("the agent's inbox %s is not its own", ctl.Subject)
	}
	ask, err := nnc.Subscribe(access.NodeSubject("n9", "logs"), func(m *nats.Msg) { m.Respond([]byte(ctl.Subject)) })
	if err != nil {
		t.Fatal(err)
	}
	nnc.Flush()
	gwFlags := natsFlags{url: url, dataDir: dir, role: access.Gateway}
	gnc, err := gwFlags.connect("test gateway")
	if err != nil {
		t.Fatal(err)
	}
	defer gnc.Close()
	reply, err := gnc.Request(access.NodeSubject("n9", "logs"), nil, 5*time.Second)
	if err != nil {
		t.Fatalf("gateway asking node n9: %v", err)
	}
	if err := gnc.Publish(string(reply.Data), []byte("stop")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-control:
		if got != "stop" {
			t.Errorf("control message %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Error("the gateway's message never reached the agent's inbox")
	}
	ask.Unsubscribe()
	ctl.Unsubscribe()
	njs, _ := jetstream.New(nnc)
	node := func(name string) (uint64, error) {
		ev := events.Event{ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/agent", Actor: "system:node:" + name,
			Ref: events.Ref{Resource: "nodes", Name: name}, APIVersion: "v1", Kind: "Node", RequestID: "r", Time: time.Now().UTC(),
			Data: []byte(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"` + name + `"}}`)}
		msg, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		ack, err := njs.PublishMsg(pctx, msg)
		if err != nil {
			return 0, err
		}
		return ack.Sequence, nil
	}
	if _, err := node("other"); err == nil {
		t.Error("node n9's credentials wrote node other")
	}

	// The node's agent signs what it writes with its key, which the audit
	// trusts since `wake join`; an event written around wake's writers
	// (unsigned, with the same credentials) fails the audit, named.
	key, err := events.LoadSigner(credsFile)
	if err != nil {
		t.Fatal(err)
	}
	nlog, err := events.Open(ctx, nnc, events.Config{KeepMaxAge: true, KeepMaxBytes: true, Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	signed := events.Event{ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/agent", Actor: "system:node:n9",
		Ref: events.Ref{Resource: "nodes", Name: "n9"}, APIVersion: "v1", Kind: "Node", RequestID: "r",
		Data: []byte(`{"apiVersion":"v1","kind":"Node","metadata":{"name":"n9"}}`)}
	if _, err := nlog.Append(ctx, signed, 0); err != nil {
		t.Fatalf("node n9 writing itself: %v", err)
	}
	var verify strings.Builder
	if err := runAudit(ctx, []string{"verify", "--kubeconfig", c.kubeconfig}, &verify); err != nil {
		t.Fatalf("wake audit verify with every event signed: %v\n%s", err, verify.String())
	}
	forged, err := node("n9")
	if err != nil {
		t.Fatalf("node n9 writing itself unsigned: %v", err)
	}
	verify.Reset()
	err = runAudit(ctx, []string{"verify", "--kubeconfig", c.kubeconfig}, &verify)
	if err == nil || !strings.Contains(verify.String(), fmt.Sprintf("event %d", forged)) {
		t.Errorf("wake audit verify after an unsigned event %d: %v\n%s", forged, err, verify.String())
	}

	// The CLI finds the local credentials; without them it says where it
	// looked.
	t.Setenv("WAKE_DATA", dir)
	out.Reset()
	if err := runSink(ctx, []string{"ls"}, &out); err != nil {
		t.Fatalf("wake sink ls beside wake up: %v", err)
	}
	t.Setenv("WAKE_DATA", t.TempDir())
	if err := runSink(ctx, []string{"ls", "--nats", url}, &out); err == nil || !strings.Contains(err.Error(), "no credentials found") {
		t.Errorf("wake sink ls without credentials: %v", err)
	}
}

// Beyond loopback the embedded server speaks TLS with a certificate of
// the data directory's CA: local commands trust it, a client without the
// CA is refused.
func TestNATSBeyondLoopbackIsTLS(t *testing.T) {
	dir := t.TempDir()
	startWakeWith(t, upConfig{dataDir: dir, listen: "127.0.0.1:0", natsListen: "0.0.0.0:0"})
	url := localNATSURL(dir)
	if !strings.HasPrefix(url, "tls://127.0.0.1:") {
		t.Fatalf("nats-url %q, want tls://127.0.0.1:PORT", url)
	}
	creds := credsPath(dir, access.Admin)
	if nc, err := nats.Connect(url, nats.UserCredentials(creds)); err == nil {
		nc.Close()
		t.Fatal("a client that does not trust the CA connected")
	}
	plain := "nats://" + strings.TrimPrefix(url, "tls://")
	if nc, err := nats.Connect(plain, nats.UserCredentials(creds), nats.Secure(&tls.Config{InsecureSkipVerify: false})); err == nil {
		nc.Close()
		t.Fatal("connected without verifying the server")
	}
	nf := natsFlags{dataDir: dir}
	nc, err := nf.connect("test")
	if err != nil {
		t.Fatalf("local admin over TLS: %v", err)
	}
	if !nc.TLSRequired() {
		t.Error("the connection is not TLS")
	}
	nc.Close()
	var out strings.Builder
	if err := runJoin(t.Context(), []string{"--data", dir, "n2"}, &out); err != nil {
		t.Fatal(err)
	}
	j, err := access.ParseJoinToken(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if j.CA == "" || !strings.HasPrefix(j.Servers, "tls://") || strings.Contains(j.Servers, "0.0.0.0") {
		t.Errorf("join over TLS: servers %q, CA %d bytes", j.Servers, len(j.CA))
	}
}
