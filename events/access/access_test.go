package access_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/access"
	"github.com/wakehq/wake/events/audit"
	"github.com/wakehq/wake/events/embedded"
)

// startServer runs the embedded server, admitting only auth's users.
func startServer(t *testing.T, auth *access.Authority) *server.Server {
	t.Helper()
	s, err := embedded.Start(embedded.Options{Dir: t.TempDir(), NoSync: true, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// client is a connection that records the permission errors the server
// sends it.
type client struct {
	nc         *nats.Conn
	mu         sync.Mutex
	violations []string
}

func connect(t *testing.T, s *server.Server, u access.User) *client {
	t.Helper()
	c := &client{}
	nc, err := embedded.Connect(s, t.Name(), u.Option(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		c.mu.Lock()
		c.violations = append(c.violations, err.Error())
		c.mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	return c
}

// refused reports whether the server refused what touched subject.
func (c *client) refused(subject string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		c.mu.Lock()
		for _, v := range c.violations {
			if strings.Contains(v, `"`+subject+`"`) {
				c.mu.Unlock()
				return true
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func issue(t *testing.T, a *access.Authority, role access.Role, node string) access.User {
	t.Helper()
	u, err := a.Issue(role, node, string(role)+" "+node)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Each role may publish and subscribe to what its work needs and nothing
// else: a table of role × subject → allowed, checked by a real server.
func TestRolePermissions(t *testing.T) {
	auth, err := access.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, auth)
	const pub, sub = "pub", "sub"
	cases := []struct {
		role    access.Role
		node    string
		op      string
		subject string
		allowed bool
	}{
		{access.Admin, "", pub, "$JS.API.STREAM.PURGE.WAKE.x", true},
		{access.Admin, "", sub, "wake.node.n1.exec", true},
		{access.Up, "", pub, "wake.obj.core.pods.default.p", true},
		{access.Up, "", pub, "$JS.API.STREAM.PURGE.WAKE", false},
		{access.Up, "", pub, access.RemovalSubject, false},
		{access.Admin, "", pub, access.RemovalSubject, true},
		{access.Controllers, "", pub, access.RemovalSubject, false},
		{access.Gateway, "", pub, "wake.obj.core.configmaps.default.c", true},
		{access.Gateway, "", pub, "wake.node.n1.exec", true},
		{access.Gateway, "", pub, "$JS.API.STREAM.PURGE.WAKE", false},
		{access.Gateway, "", pub, "$JS.API.STREAM.MSG.DELETE.WAKE", false},
		{access.Gateway, "", pub, "$JS.API.STREAM.DELETE.WAKE", false},
		{access.Gateway, "", pub, "wake.audit.seal", false},
		{access.Gateway, "", pub, "$KV.WAKE_LEASES.scheduler", false},
		{access.Gateway, "", sub, "wake.node.n1.exec", false},
		{access.Gateway, "", sub, "wake.obj.>", false},
		{access.Scheduler, "", pub, "wake.obj.core.pods.default.p", true},
		{access.Scheduler, "", pub, "$KV.WAKE_LEASES.scheduler", true},
		{access.Scheduler, "", pub, "$KV.WAKE_SINKS.evil", false},
		{access.Scheduler, "", pub, "wake.node.n1.exec", false},
		{access.Controllers, "", pub, "wake.audit.seal", true},
		{access.Controllers, "", pub, "wake.node.n1.metrics", true},
		{access.Controllers, "", pub, "wake.node.n1.exec", false},
		{access.Controllers, "", pub, "$JS.API.STREAM.PURGE.WAKE", false},
		{access.Agent, "n1", pub, "wake.obj.core.nodes._.n1", true},
		{access.Agent, "n1", pub, "wake.obj.core.nodes._.n2", false},
		{access.Agent, "n1", pub, "wake.obj.core.pods.default.p", true},
		{access.Agent, "n1", pub, "wake.obj.core.events.default.e", true},
		{access.Agent, "n1", pub, "wake.obj.core.secrets.default.s", false},
		{access.Agent, "n1", pub, "wake.obj.apps.deployments.default.d", false},
		{access.Agent, "n1", pub, "$KV.WAKE_NODE_HEARTBEATS.n1", true},
		{access.Agent, "n1", pub, "$KV.WAKE_NODE_HEARTBEATS.n2", false},
		{access.Agent, "n1", pub, "$KV.WAKE_SINKS.evil", false},
		{access.Agent, "n1", pub, "$JS.API.STREAM.UPDATE.WAKE", false},
		{access.Agent, "n1", pub, "$JS.API.STREAM.PURGE.WAKE", false},
		{access.Agent, "n1", pub, "wake.node.n2.exec", false},
		{access.Agent, "n1", sub, "wake.node.n1.exec", true},
		{access.Agent, "n1", sub, "wake.node.n1.portforward", true},
		{access.Agent, "n1", sub, "wake.node.n2.exec", false},
		{access.Agent, "n1", sub, "wake.node.*.exec", false},
		{access.Agent, "n1", sub, "wake.obj.>", false},
		// Node names with dots are one token: n1.evil is not n1's.
		{access.Agent, "n1", pub, "wake.obj.core.nodes._.n1.evil", false},
		{access.Agent, "a.b", pub, "wake.obj.core.nodes._." + events.EncodeToken("a.b"), true},
		{access.Agent, "a.b", sub, access.NodeSubject("a.b", "logs"), true},
	}
	for _, tc := range cases {
		name := string(tc.role) + "/" + tc.node + "/" + tc.op + " " + tc.subject
		t.Run(name, func(t *testing.T) {
			c := connect(t, s, issue(t, auth, tc.role, tc.node))
			if tc.op == pub {
				if err := c.nc.Publish(tc.subject, []byte("x")); err != nil {
					t.Fatal(err)
				}
			} else if _, err := c.nc.SubscribeSync(tc.subject); err != nil {
				t.Fatal(err)
			}
			if err := c.nc.Flush(); err != nil {
				t.Fatal(err)
			}
			wait := time.Second
			if tc.allowed {
				wait = 50 * time.Millisecond // the refusal would come before Flush's answer
			}
			if got := !c.refused(tc.subject, wait); got != tc.allowed {
				t.Errorf("allowed = %v, want %v (violations %q)", got, tc.allowed, c.violations)
			}
		})
	}
}

// Nobody connects without an identity this authority issued.
func TestStrangersRefused(t *testing.T) {
	auth, err := access.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := embedded.Start(embedded.Options{Dir: t.TempDir(), NoSync: true, Auth: auth, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	if nc, err := nats.Connect(s.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous: %v, want an authorization violation", err)
	}
	if nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("admin", "admin")); err == nil {
		nc.Close()
		t.Fatal("a user and password connected")
	}
	other, err := access.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect(s.ClientURL(), issue(t, other, access.Admin, "").Option()); err == nil {
		nc.Close()
		t.Fatal("an admin of another authority connected")
	}
	// A user whose JWT names a key it does not hold fails the challenge.
	mine, theirs := issue(t, auth, access.Admin, ""), issue(t, other, access.Admin, "")
	if nc, err := nats.Connect(s.ClientURL(), access.User{JWT: mine.JWT, Seed: theirs.Seed}.Option()); err == nil {
		nc.Close()
		t.Fatal("a stolen JWT without its key connected")
	}
	nc, err := nats.Connect(s.ClientURL(), mine.Option())
	if err != nil {
		t.Fatalf("its own admin: %v", err)
	}
	nc.Close()
}

// The embedded server never serves a socket without authentication, nor
// beyond loopback without TLS.
func TestEmbeddedRefusesInsecureListen(t *testing.T) {
	auth, err := access.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []embedded.Options{
		{Dir: t.TempDir(), NoSync: true, Listen: "127.0.0.1:0"},
		{Dir: t.TempDir(), NoSync: true, Listen: "0.0.0.0:0", Auth: auth},
	} {
		if s, err := embedded.Start(o); err == nil {
			s.Shutdown()
			t.Errorf("Start(%+v) served", o)
		}
	}
}

// The keys persist: a restart trusts the credentials files it wrote, and
// the files are for their owner only.
func TestAuthorityPersists(t *testing.T) {
	dir := t.TempDir()
	a, err := access.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	u := issue(t, a, access.Gateway, "")
	creds := filepath.Join(t.TempDir(), "gw.creds")
	if err := u.WriteCreds(creds); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{creds, filepath.Join(dir, "account.nk"), filepath.Join(dir, "operator.nk"), filepath.Join(dir, "system.nk")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
	}
	b, err := access.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Account() != b.Account() {
		t.Fatal("the account changed across loads")
	}
	s := startServer(t, b)
	nc, err := embedded.Connect(s, "gw", nats.UserCredentials(creds))
	if err != nil {
		t.Fatalf("credentials from before the restart: %v", err)
	}
	nc.Close()
	if err := os.WriteFile(filepath.Join(dir, "account.nk"), []byte("SUAGARBAGE"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := access.LoadOrCreate(dir); err == nil {
		t.Fatal("a damaged key loaded")
	}
}

func TestPermissionsNeedTheirNode(t *testing.T) {
	for _, tc := range []struct {
		role access.Role
		node string
	}{{access.Agent, ""}, {access.Gateway, "n1"}, {"nobody", ""}} {
		if _, err := access.Permissions(tc.role, tc.node); err == nil {
			t.Errorf("Permissions(%q, %q) = nil error", tc.role, tc.node)
		}
	}
}

// The authority remembers whom it issued keys to (but not wake up's own
// in-process identity), which is how the audit knows its signers, and on
// which subjects of the log each may sign.
func TestIssuedIdentities(t *testing.T) {
	a, err := access.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gw := issue(t, a, access.Gateway, "")
	agent := issue(t, a, access.Agent, "n1")
	issue(t, a, access.Up, "")
	ids, err := a.Issued()
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Fatalf("issued %+v, want the gateway and the agent", ids)
	}
	for i, u := range []access.User{gw, agent} {
		kp, err := nkeys.FromSeed(u.Seed)
		if err != nil {
			t.Fatal(err)
		}
		if pub, _ := kp.PublicKey(); ids[i].Public != pub {
			t.Errorf("identity %d: public key %s, want %s", i, ids[i].Public, pub)
		}
	}
	if got := ids[0].LogSubjects(); !slices.Equal(got, []string{"wake.obj.>"}) {
		t.Errorf("gateway signs %q", got)
	}
	if got := ids[1].LogSubjects(); !slices.Equal(got, []string{"wake.obj.core.pods.>", "wake.obj.core.nodes._.n1", "wake.obj.core.events.>"}) {
		t.Errorf("agent n1 signs %q", got)
	}
	if access.RemovalSubject != audit.RemovalSubject {
		t.Errorf("access guards %q, the audit records removals on %q", access.RemovalSubject, audit.RemovalSubject)
	}
}

// An agent works on inboxes of its own: it reads the log through
// JetStream and asks requests there, and cannot listen on anyone else's.
func TestAgentInboxes(t *testing.T) {
	auth, err := access.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, auth)
	admin := connect(t, s, issue(t, auth, access.Admin, ""))
	js, _ := jetstream.New(admin.nc)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: events.StreamName, Subjects: []string{"wake.obj.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "wake.obj.core.pods.default.p", []byte("x")); err != nil {
		t.Fatal(err)
	}
	responder, err := admin.nc.Subscribe("wake.node.n1.metrics", func(m *nats.Msg) { m.Respond([]byte("ok")) })
	if err != nil {
		t.Fatal(err)
	}
	defer responder.Unsubscribe()
	admin.nc.Flush()

	agent := &client{}
	nc, err := embedded.Connect(s, "agent n1", issue(t, auth, access.Agent, "n1").Option(), nats.CustomInboxPrefix(access.InboxPrefix("n1")),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			agent.mu.Lock()
			agent.violations = append(agent.violations, err.Error())
			agent.mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	agent.nc = nc
	ajs, _ := jetstream.New(nc)
	stream, err := ajs.Stream(t.Context(), events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	c, err := stream.OrderedConsumer(t.Context(), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil || string(m.Data()) != "x" {
		t.Fatalf("the agent reading the log: %v", err)
	}
	// A request to another node's subject is the gateway's to make, not an
	// agent's; its own answers come back on its own inboxes.
	if _, err := nc.Request("wake.node.n1.metrics", nil, 2*time.Second); err == nil {
		t.Error("an agent asked a node for metrics")
	}
	if _, err := nc.SubscribeSync("_INBOX.>"); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	if !agent.refused("_INBOX.>", time.Second) {
		t.Errorf("an agent listens on everyone's inboxes (violations %q)", agent.violations)
	}
}
