package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/nats-io/nats.go"
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

// connect dials the cluster, reconnecting for ever.
func (f *natsFlags) connect(name string) (*nats.Conn, error) {
	if f.url == "" {
		return nil, errors.New("--nats is required")
	}
	opts := []nats.Option{nats.Name(name), nats.MaxReconnects(-1)}
	if f.creds != "" {
		opts = append(opts, nats.UserCredentials(f.creds))
	}
	if f.ca != "" {
		opts = append(opts, nats.RootCAs(f.ca))
	}
	if f.cert != "" || f.key != "" {
		opts = append(opts, nats.ClientCert(f.cert, f.key))
	}
	nc, err := nats.Connect(f.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", f.url, err)
	}
	return nc, nil
}
