package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"github.com/wakehq/wake/events/access"
	"github.com/wakehq/wake/gateway/pki"
)

// runGateway runs only the Kubernetes API gateway (with its projection)
// against an external NATS server: any number of them may serve one log.
func runGateway(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	home, _ := os.UserHomeDir()
	dataDir := fs.String("data", filepath.Join(home, ".wake"), "directory holding pki/ (the CA) and tokens.csv")
	listen := fs.String("listen", "0.0.0.0:6443", "address to serve HTTPS on")
	nf := natsFlags{role: access.Gateway}
	nf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	nf.dataDir = *dataDir
	nc, err := nf.dial(ctx, "wake gateway")
	if err != nil {
		return err
	}
	defer nc.Close()
	ca, err := pki.LoadOrCreateCA(filepath.Join(*dataDir, "pki"))
	if err != nil {
		return err
	}
	tokens, _, err := loadOrCreateTokens(filepath.Join(*dataDir, "tokens.csv"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(ln.Addr().String())
	hostname, _ := os.Hostname()
	cert, err := ca.ServerCert("localhost", "127.0.0.1", "::1", host, hostname)
	if err != nil {
		return err
	}
	id, err := nf.identity(access.Gateway)
	if err != nil {
		return err
	}
	return runControlPlane(ctx, nc, nf.replicas, ln, pki.ServerTLS(cert), tokens, id, nil, func() {
		fmt.Fprintf(stdout, "wake gateway serving https://%s\n", ln.Addr())
	})
}
