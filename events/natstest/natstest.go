// Package natstest runs an in-process NATS server with JetStream for
// tests: one server per test, on a random port, storing in t.TempDir(),
// shut down when the test ends.
//
//	s, nc := natstest.Start(t)
//	log, err := events.Open(t.Context(), nc, events.Config{})
//
// nc talks to the server in-process (no TCP); other clients can still
// connect to s.ClientURL(). To restart a server on the same data, keep
// the Options and call StartWith again after s.Shutdown().
//
// It is for tests only and must not be imported by production code.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options are the server options Start uses: JetStream on, a fresh store
// directory from t.TempDir(), a random port on 127.0.0.1, no logging.
func Options(t testing.TB) *server.Options {
	t.Helper()
	return &server.Options{
		ServerName: "natstest",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		NoLog:      true,
		NoSigs:     true,
	}
}

// Start runs a server with Options(t) and connects to it.
func Start(t testing.TB) (*server.Server, *nats.Conn) {
	t.Helper()
	return StartWith(t, Options(t))
}

// StartWith runs a server with opts and connects to it. Both are closed
// when the test ends (closing or shutting down earlier is fine).
func StartWith(t testing.TB, opts *server.Options) (*server.Server, *nats.Conn) {
	t.Helper()
	o := *opts // the server keeps and changes its options
	s, err := server.NewServer(&o)
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("natstest: server not ready after 10s")
	}
	nc, err := nats.Connect(s.ClientURL(), nats.InProcessServer(s), nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return s, nc
}
