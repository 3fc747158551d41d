package exec_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/agent/exec"
	"github.com/wakehq/wake/events/natstest"
)

// A gateway that gives up before the process starts does not leave the
// agent holding the session until its idle timeout: the late hello gets a
// cancel, and the process is killed.
func TestDialGivenUpCancelsLateHello(t *testing.T) {
	_, nc := natstest.Start(t)
	asked, release, killed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := &exec.Server{NC: nc, Node: "n", Exec: func(ctx context.Context, req exec.Request, p exec.Process) (int, error) {
		close(asked)
		<-release
		p.Started()
		<-ctx.Done()
		close(killed)
		return 0, ctx.Err()
	}}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	for nc.NumSubscriptions() == 0 { // Run has subscribed…
		time.Sleep(time.Millisecond)
	}
	nc.Flush() // …and the server knows

	dialCtx, giveUp := context.WithCancel(t.Context())
	go func() { <-asked; giveUp() }()
	c := exec.Client{NC: nc}
	if _, err := c.Dial(dialCtx, "n", exec.Request{UID: "u", Container: "c", Command: []string{"sh"}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial: %v, want context.Canceled", err)
	}
	close(release)
	select {
	case <-killed:
	case <-time.After(exec.IdleTimeout / 3):
		t.Fatal("the process outlived a session the gateway gave up")
	}
	for deadline := time.Now().Add(5 * time.Second); srv.Active() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still served", srv.Active())
		}
	}
}

// A session's errors name its protocol: port-forward uses this framing too.
func TestSilentPeerNamesProtocol(t *testing.T) {
	_, nc := natstest.Start(t)
	pf := exec.Protocol{Name: "port-forward", Subject: func(node string) string { return "test." + node }}
	sub, err := nc.Subscribe(pf.Subject("n"), func(m *nats.Msg) {
		conn, err := exec.Accept(nc, pf, m.Reply, 0, 0)
		if err != nil {
			t.Error(err)
			return
		}
		conn.Hello(context.Background())
		conn.Close() // and never a keepalive again
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	c := exec.Client{NC: nc, Keepalive: 10 * time.Millisecond, IdleTimeout: 50 * time.Millisecond}
	conn, err := c.Open(t.Context(), pf, "n", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = conn.Next(t.Context())
	var e *exec.Error
	if want := "the other side of the port-forward session went silent"; !errors.As(err, &e) || e.Reason != exec.ReasonUnavailable || e.Message != want {
		t.Errorf("Next: %v, want %s: %s", err, exec.ReasonUnavailable, want)
	}
}
