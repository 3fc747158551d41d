package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/access"
)

// natsFlags are how every role reaches a NATS cluster: URLs, credentials,
// TLS, and the replication of what wake creates there.
type natsFlags struct {
	url      string
	creds    string
	ca       string
	cert     string
	key      string
	replicas int
	// role picks the local `wake up`'s credentials when none are named
	// (admin when empty); dataDir is where to look (defaultDataDir when
	// empty).
	role    access.Role
	dataDir string
	// node is an agent's: with credentials (a node's identity), its
	// replies come on inboxes of its own (access.InboxPrefix).
	node string
}

// register adds the flags to fs; each also reads an environment variable,
// so systemd units can keep secrets out of command lines.
func (f *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.url, "nats", os.Getenv("WAKE_NATS"), "NATS server URL(s), comma-separated (env WAKE_NATS)")
	fs.StringVar(&f.creds, "nats-creds", os.Getenv("WAKE_NATS_CREDS"), "NATS credentials file (env WAKE_NATS_CREDS)")
	fs.StringVar(&f.ca, "nats-ca", os.Getenv("WAKE_NATS_CA"), "CA certificate that signed the NATS servers' certificates (env WAKE_NATS_CA)")
	fs.StringVar(&f.cert, "nats-cert", os.Getenv("WAKE_NATS_CERT"), "client certificate for NATS mutual TLS (env WAKE_NATS_CERT)")
	fs.StringVar(&f.key, "nats-key", os.Getenv("WAKE_NATS_KEY"), "client key for NATS mutual TLS (env WAKE_NATS_KEY)")
	replicas, _ := strconv.Atoi(os.Getenv("WAKE_REPLICAS"))
	fs.IntVar(&f.replicas, "replicas", replicas, "replicas of the stream and buckets wake creates (3 on a cluster; 0 keeps what exists, else 1) (env WAKE_REPLICAS)")
}

// connect dials the cluster, reconnecting for ever. Credentials and CA
// not named by flags are the local `wake up`'s: its data directory's
// credentials file for the role (else admin's) and its CA, so commands
// run beside `wake up` need no flags; a URL with a user and password
// brings its own.
func (f *natsFlags) connect(name string) (*nats.Conn, error) {
	dataDir := cmp.Or(f.dataDir, defaultDataDir())
	if f.url == "" {
		f.url = localNATSURL(dataDir)
	}
	if f.url == "" {
		return nil, errors.New("--nats is required (no local wake up serves NATS to other processes)")
	}
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1)}
	if f.creds == "" && !strings.Contains(f.url, "@") {
		for _, role := range []access.Role{cmp.Or(f.role, access.Admin), access.Admin} {
			if path := credsPath(dataDir, role); fileExists(path) {
				f.creds = path
				break
			}
		}
	}
	if f.creds != "" {
		opts = append(opts, nats.UserCredentials(f.creds))
		if f.role == access.Agent && f.node != "" {
			opts = append(opts, nats.CustomInboxPrefix(access.InboxPrefix(f.node)))
		}
	}
	switch local := filepath.Join(dataDir, "pki", "ca.crt"); {
	case f.ca != "":
		opts = append(opts, nats.RootCAs(f.ca))
	case fileExists(local):
		trust, err := trustCA(local)
		if err != nil {
			return nil, err
		}
		opts = append(opts, trust)
	}
	if f.cert != "" || f.key != "" {
		opts = append(opts, nats.ClientCert(f.cert, f.key))
	}
	nc, err := nats.Connect(f.url, opts...)
	if errors.Is(err, nats.ErrAuthorization) && f.creds == "" {
		return nil, fmt.Errorf("nats %s: %w: no credentials found in %s; pass --nats-creds, or set WAKE_DATA to the data directory of the wake up serving it",
			f.url, err, filepath.Join(dataDir, credsDir))
	}
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", f.url, err)
	}
	return nc, nil
}

// dial is connect for long-running roles: while no NATS server answers
// (the cluster is starting, or this machine booted first) it waits and
// retries, as a systemd restart loop would but without exiting; any other
// error (credentials, TLS) ends it at once.
func (f *natsFlags) dial(ctx context.Context, name string) (*nats.Conn, error) {
	wait := 500 * time.Millisecond
	for {
		nc, err := f.connect(name)
		if err == nil || !errors.Is(err, nats.ErrNoServers) {
			return nc, err
		}
		slog.Warn("waiting for a NATS server", "nats", f.url, "err", err, "retry", wait)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// openLog is events.Open that waits while the log is unavailable (no
// JetStream leader yet, say after the whole cluster restarted).
func openLog(ctx context.Context, nc *nats.Conn, cfg events.Config) (*events.Log, error) {
	wait := 500 * time.Millisecond
	for {
		log, err := events.Open(ctx, nc, cfg)
		if err == nil || !errors.Is(err, events.ErrUnavailable) {
			return log, err
		}
		slog.Warn("waiting for the log", "err", err, "retry", wait)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
