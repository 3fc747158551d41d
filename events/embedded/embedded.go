// Package embedded runs the NATS server with JetStream inside the wake
// process: the default for `wake up`, where one machine holds everything.
//
// It owns the server's options (file storage under the data directory,
// fsync on every write so an acknowledged event survives kill -9, only
// the users an access.Authority issued, TLS off loopback) and nothing
// else: the stream itself is configured by package events.
package embedded

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events/access"
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
	// Auth admits only the users it issued. Without it the server takes
	// anonymous clients, which Start allows for in-process use only.
	Auth *access.Authority
	// TLS serves clients over TLS; required when Listen is not loopback.
	TLS *tls.Config
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
		if p == 0 {
			p = server.RANDOM_PORT // as net.Listen reads port 0 (the server's 0 is 4222)
		}
		opts.Host, opts.Port = host, p
		if o.Auth == nil {
			return nil, fmt.Errorf("nats listen address %q: refusing to serve clients without authentication", o.Listen)
		}
		if o.TLS == nil && !Loopback(host) {
			return nil, fmt.Errorf("nats listen address %q: serving beyond loopback needs TLS", o.Listen)
		}
	}
	if o.TLS != nil {
		opts.TLSConfig, opts.TLS, opts.TLSTimeout = o.TLS, true, 5
	}
	if o.Auth != nil {
		if err := o.Auth.Configure(opts); err != nil {
			return nil, fmt.Errorf("nats server: %w", err)
		}
		if err := adoptAnonymousStore(o.Dir, o.Auth.Account()); err != nil {
			return nil, err
		}
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

// Connect opens an in-process connection to s: no sockets, no ports;
// opts add the identity (access.User.Option) a server with Auth needs.
func Connect(s *server.Server, name string, opts ...nats.Option) (*nats.Conn, error) {
	return nats.Connect("", append([]nats.Option{nats.InProcessServer(s), nats.Name(name), nats.MaxReconnects(-1)}, opts...)...)
}

// Loopback reports whether host (a name or an address) stays on this
// machine.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// anonymousAccount is where a server without accounts keeps JetStream's
// files.
const anonymousAccount = "$G"

// adoptAnonymousStore moves the JetStream files of a server that ran
// without authentication (wake before it had any) to account's
// directory, so the stream, snapshots and buckets carry over.
func adoptAnonymousStore(dir, account string) error {
	js := filepath.Join(dir, server.JetStreamStoreDir)
	old, dst := filepath.Join(js, anonymousAccount), filepath.Join(js, account)
	if _, err := os.Stat(old); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("nats store: both %s (from before authentication) and %s exist: move one away", old, dst)
	}
	if err := os.Rename(old, dst); err != nil {
		return fmt.Errorf("nats store: adopt %s: %w", old, err)
	}
	return nil
}
