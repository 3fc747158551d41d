package portforward_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/agent/exec"
	"github.com/wakehq/wake/agent/portforward"
	"github.com/wakehq/wake/events/natstest"
)

// node runs a Server for node "n" whose Dialer reaches handle's listener
// on any port but 1 (refused), and a pod uid "gone" it does not run.
func node(t *testing.T, handle func(net.Conn)) (*nats.Conn, *portforward.Server) {
	t.Helper()
	_, nc := natstest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
	srv := &portforward.Server{NC: nc, Node: "n", Dial: func(ctx context.Context, req portforward.Request) (net.Conn, error) {
		switch {
		case req.UID == "gone":
			return nil, &portforward.Error{Reason: exec.ReasonNotFound, Message: "pod gone is not running on node n"}
		case req.Port == 1:
			return nil, errors.New("connect: connection refused")
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ln.Addr().String())
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for nc.NumSubscriptions() == 0 { // Run has subscribed…
		time.Sleep(time.Millisecond)
	}
	nc.Flush() // …and the server knows
	return nc, srv
}

// tcpPair is a connected pair of local TCP connections.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

// The pod's server answers after reading to the client's half-close, and
// both sides end cleanly.
func TestPipeHalfClose(t *testing.T) {
	nc, srv := node(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "read %d bytes", len(b))
	})
	conn, err := (&portforward.Client{NC: nc}).Dial(t.Context(), "n", portforward.Request{UID: "u", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client, gw := tcpPair(t)
	piped := make(chan error, 1)
	go func() { piped <- portforward.Pipe(t.Context(), conn, gw) }()
	client.Write(make([]byte, 3*exec.Window*exec.MaxChunk))
	client.CloseWrite()
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(client)
	if want := fmt.Sprintf("read %d bytes", 3*exec.Window*exec.MaxChunk); string(got) != want || err != nil {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
	if err := <-piped; err != nil {
		t.Errorf("Pipe: %v", err)
	}
	waitIdle(t, srv)
}

// A client that goes away cancels the session: the pod's connection ends.
func TestPipeCancel(t *testing.T) {
	ended := make(chan struct{})
	nc, srv := node(t, func(c net.Conn) { io.Copy(io.Discard, c); close(ended) })
	conn, err := (&portforward.Client{NC: nc}).Dial(t.Context(), "n", portforward.Request{UID: "u", Port: 80})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client, gw := tcpPair(t)
	ctx, cancel := context.WithCancel(t.Context())
	piped := make(chan error, 1)
	go func() { piped <- portforward.Pipe(ctx, conn, gw) }()
	client.Write([]byte("hello"))
	cancel()
	if err := <-piped; !errors.Is(err, context.Canceled) {
		t.Errorf("Pipe: %v", err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the pod's connection did not end")
	}
	waitIdle(t, srv)
}

// Refusals come back at once with the node's reason and words.
func TestRefusals(t *testing.T) {
	nc, _ := node(t, func(net.Conn) {})
	c := portforward.Client{NC: nc}
	for _, tc := range []struct {
		node   string
		req    portforward.Request
		reason string
		want   string
	}{
		{"n", portforward.Request{UID: "u", Port: 1}, exec.ReasonInternal, "failed to dial port 1: connect: connection refused"},
		{"n", portforward.Request{UID: "gone", Port: 80}, exec.ReasonNotFound, "pod gone is not running"},
		{"n", portforward.Request{UID: "u", Port: 70000}, exec.ReasonBadRequest, "port 70000 is not in 1..65535"},
		{"n", portforward.Request{UID: "../x", Port: 80}, exec.ReasonBadRequest, `invalid pod uid "../x"`},
		{"other", portforward.Request{UID: "u", Port: 80}, exec.ReasonUnavailable, `no agent of node "other" answers port-forward requests`},
	} {
		start := time.Now()
		_, err := c.Dial(t.Context(), tc.node, tc.req)
		var e *portforward.Error
		if !errors.As(err, &e) || e.Reason != tc.reason || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s %+v: %v, want %s: %s", tc.node, tc.req, err, tc.reason, tc.want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%+v: refused after %s", tc.req, d)
		}
	}
}

func waitIdle(t *testing.T, srv *portforward.Server) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); srv.Active() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still served", srv.Active())
		}
	}
}
