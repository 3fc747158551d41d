// Package embedded runs the NATS server with JetStream inside the wake
// process: the default for `wake up`, where one machine holds everything.
//
// It owns the server's options (file storage under the data directory,
// fsync on every write so an acknowledged event survives kill -9) and
// nothing else: the stream itself is configured by package events.
package embedded

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configure the embedded server.
type Options struct {
	// Dir holds JetStream's files.
	Dir string
	// Listen is the host:port other wake processes reach the server on; ""
	// serves only this process (in-process connections).
	Listen string
	// NoSync trades durability for speed: JetStream then fsyncs every two
	// minutes instead of on every write. Tests only.
	NoSync bool
}

// MaxPayload is the largest message the server accepts: room for the
// largest object (3 MiB request bodies) plus headers.
const MaxPayload = 8 << 20

// Start runs a NATS server with JetStream and waits until it is ready.
func Start(o Options) (*server.Server, error) {
	opts := &server.Options{
		ServerName:         "wake",
		JetStream:          true,
		StoreDir:           o.Dir,
		SyncAlways:         !o.NoSync,
		MaxPayload:         MaxPayload,
		NoSigs:             true,
		NoLog:              true,
		JetStreamMaxMemory: 1 << 30,
	}
	if o.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", o.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("nats listen port %q: %w", port, err)
		}
		opts.Host, opts.Port = host, p
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("nats server did not start within 30s")
	}
	return s, nil
}

// Connect opens an in-process connection to s: no sockets, no ports.
func Connect(s *server.Server, name string) (*nats.Conn, error) {
	return nats.Connect("", nats.InProcessServer(s), nats.Name(name), nats.MaxReconnects(-1))
}
