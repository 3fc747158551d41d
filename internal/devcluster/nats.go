package devcluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/wakehq/wake/gateway/pki"
)

// NATSOptions configure one member of the cluster's NATS cluster, as
// `wake dev nats` runs it.
type NATSOptions struct {
	Name          string   // server name: nats1
	Listen        string   // clients, host:port
	ClusterListen string   // routes, host:port
	Routes        []string // nats-route://host:port of every member (itself included is fine)
	StoreDir      string   // JetStream's files
	// AuthFrom, when set, is a NATS configuration file (deploy/nats's
	// nats-server.conf) whose accounts, users and permissions this server
	// enforces; its passwords come from the environment, as there.
	AuthFrom string
}

// RunNATS runs a clustered NATS server with JetStream, fsync on every
// write (what deploy/nats/nats-server.conf configures), until ctx ends.
func RunNATS(ctx context.Context, o NATSOptions, stdout io.Writer) error {
	host, port, err := splitHostPort(o.Listen)
	if err != nil {
		return err
	}
	chost, cport, err := splitHostPort(o.ClusterListen)
	if err != nil {
		return err
	}
	opts := &server.Options{
		ServerName:         o.Name,
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           o.StoreDir,
		SyncAlways:         true,
		MaxPayload:         8 << 20,
		JetStreamMaxMemory: 256 << 20,
		NoSigs:             true,
		Logtime:            true,
		Cluster:            server.ClusterOpts{Name: "wake", Host: chost, Port: cport},
		Routes:             server.RoutesFromStr(strings.Join(o.Routes, ",")),
	}
	if o.AuthFrom != "" {
		auth, err := loadAuth(o.AuthFrom, o.StoreDir)
		if err != nil {
			return err
		}
		opts.Users, opts.Accounts, opts.SystemAccount = auth.Users, auth.Accounts, auth.SystemAccount
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("nats server: %w", err)
	}
	s.ConfigureLogger()
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return fmt.Errorf("nats server %s did not start within 30s", o.Name)
	}
	fmt.Fprintf(stdout, "nats %s ready: clients on %s, routes on %s\n", o.Name, o.Listen, o.ClusterListen)
	<-ctx.Done()
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

// loadAuth reads the accounts, users and permissions of a NATS
// configuration file made for real servers: its TLS files are replaced by
// ones made here (in dir), since only the authorization is wanted.
func loadAuth(path, dir string) (*server.Options, error) {
	conf, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tlsDir := filepath.Join(dir, "auth-tls")
	if err := os.MkdirAll(tlsDir, 0o700); err != nil {
		return nil, err
	}
	ca, err := pki.LoadOrCreateCA(tlsDir)
	if err != nil {
		return nil, err
	}
	cert, err := ca.ServerCert("localhost")
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"server.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		"server.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(tlsDir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	confPath := filepath.Join(tlsDir, "auth.conf")
	if err := os.WriteFile(confPath, []byte(strings.ReplaceAll(string(conf), "/etc/nats/tls/", tlsDir+"/")), 0o600); err != nil {
		return nil, err
	}
	opts, err := server.ProcessConfigFile(confPath)
	if err != nil {
		return nil, fmt.Errorf("authorization from %s: %w", path, err)
	}
	return opts, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", port, err)
	}
	return host, p, nil
}
