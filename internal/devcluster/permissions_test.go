package devcluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/lease"
)

// deployConf is the NATS configuration operators install.
const deployConf = "../../deploy/nats/nats-server.conf"

// The per-role permissions of deploy/nats/nats-server.conf: each role can
// do its work, an agent cannot touch what is not its own, and no role can
// delete or purge the log. TestDrills runs the whole cluster under them
// too (as `wake dev cluster --auth deploy/nats/nats-server.conf` does).
func TestDeployPermissions(t *testing.T) {
	passwords := map[string]string{"gateway": "g-pw", "scheduler": "s-pw", "controllers": "c-pw", "agent": "a-pw", "sys": "x-pw"}
	for _, kv := range [][2]string{{"NATS_NAME", "nats-1"}, {"WAKE_GATEWAY_PASSWORD", passwords["gateway"]}, {"WAKE_SCHEDULER_PASSWORD", passwords["scheduler"]},
		{"WAKE_CONTROLLERS_PASSWORD", passwords["controllers"]}, {"WAKE_AGENT_PASSWORD", passwords["agent"]}, {"NATS_SYS_PASSWORD", passwords["sys"]}} {
		t.Setenv(kv[0], kv[1])
	}
	dir := t.TempDir()
	auth, err := loadAuth(deployConf, dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true,
		Users: auth.Users, Accounts: auth.Accounts, SystemAccount: auth.SystemAccount})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(s.Shutdown)
	ctx := t.Context()

	type conn struct {
		nc *nats.Conn
		js jetstream.JetStream
		mu sync.Mutex
		// violations are the permission errors the server sent.
		violations []string
	}
	connect := func(role string) *conn {
		c := &conn{}
		nc, err := nats.Connect(s.ClientURL(), nats.UserInfo(role, passwords[role]), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			c.violations = append(c.violations, err.Error())
			c.mu.Unlock()
		}))
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		t.Cleanup(nc.Close)
		c.nc, c.js = nc, must(jetstream.New(nc))
		return c
	}
	// denied runs op and checks that the server refused subject.
	denied := func(c *conn, what, subject string, op func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if err := op(ctx); err == nil {
			t.Errorf("%s: allowed", what)
			return
		}
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			c.mu.Lock()
			v := strings.Join(c.violations, "\n")
			c.mu.Unlock()
			if strings.Contains(v, subject) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("%s: failed, but the server reported no permissions violation for %s", what, subject)
	}
	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}

	// The gateway creates the stream and buckets, as on a first start.
	gw := connect("gateway")
	log, err := events.Open(ctx, gw.nc, events.Config{})
	allowed("gateway opens the log", err)
	_, err = projections.OpenSnapshots(ctx, gw.js, 1, false)
	allowed("gateway opens the snapshots", err)
	cm := events.Ref{Resource: "configmaps", Namespace: "default", Name: "a"}
	_, err = log.Append(ctx, testEvent(cm, "ConfigMap"), 0)
	allowed("gateway appends a ConfigMap", err)
	denied(gw, "gateway deletes the log", "$JS.API.STREAM.DELETE.WAKE", func(ctx context.Context) error { return gw.js.DeleteStream(ctx, events.StreamName) })
	denied(gw, "gateway purges the log", "$JS.API.STREAM.PURGE.WAKE", func(ctx context.Context) error {
		st, err := gw.js.Stream(ctx, events.StreamName)
		if err != nil {
			return err
		}
		return st.Purge(ctx)
	})

	// The controllers hold their lease and read the log.
	ctl := connect("controllers")
	clog, err := events.Open(ctx, ctl.nc, events.Config{KeepMaxAge: true, KeepMaxBytes: true})
	allowed("controllers open the log", err)
	kv, err := lease.Open(ctx, ctl.js, lease.Options{})
	allowed("controllers open the lease bucket", err)
	if kv != nil {
		_, err = kv.Put(ctx, "controllers", []byte(`{"holder":"c1"}`))
		allowed("controllers take their lease", err)
	}
	n := 0
	err = clog.Read(ctx, 1, "", func(events.Event) error { n++; return nil })
	allowed("controllers read the log", err)
	if n != 1 {
		t.Errorf("controllers read %d events, want 1", n)
	}

	// An agent adopts what exists, heartbeats, writes its Node and pods.
	ag := connect("agent")
	alog, err := events.Open(ctx, ag.nc, events.Config{KeepMaxAge: true, KeepMaxBytes: true})
	allowed("agent opens the log", err)
	_, err = projections.OpenSnapshots(ctx, ag.js, 0, false)
	allowed("agent opens the snapshots", err)
	allowed("agent heartbeats", lease.Heartbeat(ctx, ag.js, "n1", time.Now()))
	if alog != nil {
		_, err = alog.Append(ctx, testEvent(events.Ref{Resource: "nodes", Name: "n1"}, "Node"), 0)
		allowed("agent writes its Node", err)
		_, err = alog.Append(ctx, testEvent(events.Ref{Resource: "pods", Namespace: "default", Name: "p"}, "Pod"), 0)
		allowed("agent writes a pod", err)
		dep := events.Ref{Group: "apps", Resource: "deployments", Namespace: "default", Name: "d"}
		denied(ag, "agent writes a Deployment", dep.Subject(), func(ctx context.Context) error {
			_, err := alog.Append(ctx, testEvent(dep, "Deployment"), 0)
			return err
		})
	}
	denied(ag, "agent takes a lease", "$KV.WAKE_LEASES.", func(ctx context.Context) error {
		kv, err := ag.js.KeyValue(ctx, lease.Bucket)
		if err != nil {
			return err
		}
		_, err = kv.Put(ctx, "scheduler", []byte(`{"holder":"evil"}`))
		return err
	})
	denied(ag, "agent writes a snapshot", "$O.WAKE_SNAPSHOTS.", func(ctx context.Context) error {
		st, err := ag.js.ObjectStore(ctx, projections.SnapshotBucket)
		if err != nil {
			return err
		}
		_, err = st.PutBytes(ctx, "state", []byte("{}"))
		return err
	})
	denied(ag, "agent changes the log's stream", "$JS.API.STREAM.UPDATE.WAKE", func(ctx context.Context) error {
		st, err := ag.js.Stream(ctx, events.StreamName)
		if err != nil {
			return err
		}
		cfg := st.CachedInfo().Config
		cfg.MaxAge = time.Second
		_, err = ag.js.UpdateStream(ctx, cfg)
		return err
	})
	denied(ag, "agent deletes the log", "$JS.API.STREAM.DELETE.WAKE", func(ctx context.Context) error { return ag.js.DeleteStream(ctx, events.StreamName) })

	// The gateway asks agents for logs, exec, images, port-forwards and
	// metrics; an agent answers them; other roles may not ask.
	sched := connect("scheduler")
	for _, what := range []string{"logs", "exec", "images", "portforward", "metrics"} {
		subject := "wake.node.n1." + what
		sub, err := ag.nc.Subscribe(subject, func(m *nats.Msg) { m.Respond([]byte("ok")) })
		allowed("agent answers "+subject, err)
		allowed("agent answers "+subject, ag.nc.Flush())
		if err != nil {
			continue
		}
		_, err = gw.nc.Request(subject, nil, 2*time.Second)
		allowed("gateway asks "+subject, err)
		if what == "metrics" { // the HorizontalPodAutoscaler's
			_, err = ctl.nc.Request(subject, nil, 2*time.Second)
			allowed("controllers ask "+subject, err)
		}
		sub.Unsubscribe()
	}
	denied(sched, "scheduler asks for an exec", "wake.node.n1.exec", func(ctx context.Context) error {
		_, err := sched.nc.RequestWithContext(ctx, "wake.node.n1.exec", nil)
		return err
	})

	// A node without the join token is refused at connect.
	if nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("agent", "wrong")); err == nil {
		nc.Close()
		t.Error("an agent with a wrong password connected")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func testEvent(ref events.Ref, kind string) events.Event {
	return events.Event{ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test", Ref: ref, APIVersion: "v1", Kind: kind,
		Actor: "tester", RequestID: "req", Data: fmt.Appendf(nil, `{"metadata":{"name":%q}}`, ref.Name)}
}
