package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/wakehq/wake/agent"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/access"
	"github.com/wakehq/wake/events/embedded"
	"github.com/wakehq/wake/gateway"
	"github.com/wakehq/wake/gateway/pki"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/nodeipam"
	"github.com/wakehq/wake/services/controllers/quarantine"
	"github.com/wakehq/wake/services/dns"
	"github.com/wakehq/wake/services/sink"
)

// upConfig is everything `wake up` needs; tests build one directly.
type upConfig struct {
	dataDir    string
	listen     string // gateway HTTPS address
	natsURL    string // external NATS; "" = embedded
	natsListen string // embedded NATS client address; "" = in-process only
	noSync     bool   // tests only: no fsync per event
	dnsListen  string // cluster DNS address; "" = none
	agent      bool   // run a node agent for this machine (root)
	// metricRes is the local agent's metrics resolution (--metric-resolution).
	metricRes time.Duration
	// pods gives nodes their pod CIDRs (--cluster-cidr); nil: the default.
	pods *nodeipam.Allocator
	// retention is the stream's, from --retention-age/--retention-bytes.
	retention events.Config
	// ready, when set, receives the kubeconfig path once wake serves.
	ready func(kubeconfig string)
}

func runUp(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	home, _ := os.UserHomeDir()
	cfg := upConfig{}
	fs.StringVar(&cfg.dataDir, "data", filepath.Join(home, ".wake"), "data directory: NATS files, CA, tokens, kubeconfig")
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:6443", "address the Kubernetes API gateway serves HTTPS on")
	fs.StringVar(&cfg.natsURL, "nats", "", "URL of an external NATS server with JetStream (default: run one embedded)")
	fs.StringVar(&cfg.natsListen, "nats-listen", "127.0.0.1:4222", `address the embedded NATS server serves other wake processes on ("" = this process only)`)
	fs.StringVar(&cfg.dnsListen, "dns-listen", dns.DefaultListen, `address cluster DNS (cluster.local) answers on, UDP and TCP ("" = none)`)
	fs.BoolVar(&cfg.agent, "agent", os.Geteuid() == 0, "run a node agent for this machine (needs root; default on as root)")
	fs.DurationVar(&cfg.metricRes, "metric-resolution", agent.DefaultMetricsResolution, "how often the local agent samples resource usage for kubectl top (metrics.k8s.io)")
	var rf retentionFlags
	rf.register(fs)
	var cf clusterFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if cfg.retention, err = rf.config(); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	cfg.pods = cf.alloc
	cfg.ready = func(kubeconfig string) {
		fmt.Fprintf(stdout, "wake is up: the Kubernetes API is at https://%s\n  export KUBECONFIG=%s\n", cfg.listen, kubeconfig)
	}
	return up(ctx, cfg)
}

// up runs the whole control plane until ctx ends.
func up(ctx context.Context, cfg upConfig) error {
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return err
	}
	ca, err := pki.LoadOrCreateCA(filepath.Join(cfg.dataDir, "pki"))
	if err != nil {
		return fmt.Errorf("CA: %w", err)
	}
	auth, err := loadAuthority(cfg.dataDir)
	if err != nil {
		return err
	}
	nc, stopNATS, err := connectNATS(cfg, ca, auth)
	if err != nil {
		return err
	}
	defer stopNATS()
	tokens, adminToken, err := loadOrCreateTokens(filepath.Join(cfg.dataDir, "tokens.csv"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	addr := ln.Addr().String()
	host, _, _ := net.SplitHostPort(addr)
	hostname, _ := os.Hostname()
	cert, err := ca.ServerCert("localhost", "127.0.0.1", "::1", host, hostname)
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(cfg.dataDir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, "https://"+addr, ca.CertPEM, adminToken); err != nil {
		return err
	}
	node := ""
	if cfg.agent {
		node = localNodeName()
	}
	id, err := localIdentity(auth, cfg.dataDir, node)
	if err != nil {
		return err
	}
	services := func(as roleLogs, view *projections.Projection) []runner {
		out := allServicesWith(as, view, cfg.pods)
		if cfg.agent {
			if a := localAgent(cfg.dataDir, cfg.clusterCIDR(), cfg.metricRes, as(access.Agent), view); a != nil {
				out = append(out, a)
			}
		}
		if cfg.dnsListen != "" {
			out = append(out, optional{"cluster DNS", dns.New(view, dns.Config{Listen: cfg.dnsListen})})
		}
		return out
	}
	return runControlPlaneWith(ctx, nc, cfg.retention, ln, pki.ServerTLS(cert), tokens, id, services, func() {
		if cfg.ready != nil {
			cfg.ready(kubeconfig)
		}
	})
}

// clusterCIDR is the pod network's range ("" for the default).
func (cfg upConfig) clusterCIDR() string {
	if cfg.pods == nil {
		return ""
	}
	return cfg.pods.ClusterCIDR()
}

// runControlPlane runs the projection, the gateway and every service over
// one NATS connection, until ctx ends or one of them fails.
// services, when not nil, makes the services to run beside them.
func runControlPlane(ctx context.Context, nc *nats.Conn, replicas int, ln net.Listener, tlsConfig *tls.Config, tokens gateway.Tokens,
	id identity, services func(roleLogs, *projections.Projection) []runner, ready func()) error {
	// Not told a retention: keep the stream's.
	stream := events.Config{Replicas: replicas, KeepMaxAge: true, KeepMaxBytes: true}
	return runControlPlaneWith(ctx, nc, stream, ln, tlsConfig, tokens, id, services, ready)
}

// runControlPlaneWith is runControlPlane with the stream's configuration.
func runControlPlaneWith(ctx context.Context, nc *nats.Conn, stream events.Config, ln net.Listener, tlsConfig *tls.Config, tokens gateway.Tokens,
	id identity, services func(roleLogs, *projections.Projection) []runner, ready func()) error {
	replicas := stream.Replicas
	log, err := openLog(ctx, nc, stream)
	if err != nil {
		return err
	}
	as, err := id.logs(log)
	if err != nil {
		return err
	}
	snaps, err := projections.OpenSnapshots(ctx, log.JetStream(), replicas, false)
	if err != nil {
		return err
	}
	proj := projections.New(projections.Options{})
	gw := gateway.New(gateway.Config{Log: as(access.Gateway), Projection: proj, Tokens: tokens, Services: advertise(ln), AuditTrust: id.trust})

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return proj.Run(ctx, log, snaps) })
	g.Go(func() error { return gw.Serve(ctx, ln, tlsConfig) })
	if services != nil {
		g.Go(func() error { return runSealer(ctx, log) })
		for _, svc := range services(as, proj) {
			g.Go(func() error { return svc.Run(ctx) })
		}
	}
	g.Go(func() error {
		select {
		case <-proj.Ready():
		case <-ctx.Done():
			return nil
		}
		if err := gw.Bootstrap(ctx); err != nil {
			return fmt.Errorf("bootstrap: %w", err)
		}
		ready()
		return nil
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// allServicesWith are the services `wake up` runs in its own process:
// every controller and the scheduler, sharing the gateway's projection;
// pods is the node IPAM allocator (nil: the default cluster CIDR).
func allServicesWith(as roleLogs, view *projections.Projection, pods *nodeipam.Allocator) []runner {
	out := []runner{newScheduler(as(access.Scheduler), view), newSinks(as(access.Controllers)), quarantine.New(as(access.Controllers), view)}
	for _, l := range controllerLoopsWith(as(access.Controllers), view, pods) {
		out = append(out, l)
	}
	return out
}

// newSinks is the CloudEvents HTTP sink service; its failure to start
// (say, the WAKE_SINKS bucket cannot be made) is logged, not fatal.
func newSinks(log *events.Log) runner {
	return optional{"sink service", sink.New(log.JetStream(), sink.Options{})}
}

// retentionFlags set how long the stream keeps events. Unset, a process
// keeps what the stream has (none when it creates it), so a role started
// without them never lifts a retention another set.
type retentionFlags struct{ age, bytes string }

func (f *retentionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.age, "retention-age", "", `drop events older than this: a duration (720h, or days: 90d), "forever" to lift it (default: keep the stream's)`)
	fs.StringVar(&f.bytes, "retention-bytes", "", `drop the oldest events beyond this size: bytes or a quantity (500Gi, 1T), "unlimited" to lift it (default: keep the stream's)`)
}

// Floors under which retention could drop events before a snapshot
// covers them (one every 10,000 events and at shutdown).
const (
	minRetentionAge   = time.Hour
	minRetentionBytes = 256 << 20
)

func (f retentionFlags) config() (events.Config, error) {
	c := events.Config{KeepMaxAge: f.age == "", KeepMaxBytes: f.bytes == ""}
	switch f.age {
	case "", "0", "forever":
	default:
		s, days := strings.CutSuffix(f.age, "d")
		d, err := time.ParseDuration(s)
		if days {
			n, perr := strconv.ParseUint(s, 10, 32)
			d, err = time.Duration(n)*24*time.Hour, perr
		}
		if err != nil || d < minRetentionAge {
			return c, fmt.Errorf("--retention-age %q: want a duration of at least %s (or Nd days, or forever): snapshots must cover what retention drops", f.age, minRetentionAge)
		}
		c.MaxAge = d
	}
	switch f.bytes {
	case "", "0", "unlimited":
	default:
		q, err := resource.ParseQuantity(f.bytes)
		if err != nil || q.Value() < minRetentionBytes {
			return c, fmt.Errorf("--retention-bytes %q: want a size of at least 256Mi (bytes or a quantity: 500Gi, 1T), or unlimited", f.bytes)
		}
		c.MaxBytes = q.Value()
	}
	return c, nil
}

// optional is a part whose failure (say, a DNS port already taken) is
// logged without stopping the rest.
type optional struct {
	name string
	runner
}

func (o optional) Run(ctx context.Context) error {
	if err := o.runner.Run(ctx); err != nil && ctx.Err() == nil {
		slog.Warn(o.name+" stopped", "err", err)
	}
	return nil
}

// advertise is the address the `kubernetes` Service's endpoints name: the
// gateway's own, or this machine's first non-loopback address when the
// gateway listens on all of them.
func advertise(ln net.Listener) gateway.ServiceNetwork {
	addr := ln.Addr().(*net.TCPAddr)
	ip := addr.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
					ip = n.IP
					break
				}
			}
		}
	}
	return gateway.ServiceNetwork{AdvertiseAddress: ip.String(), AdvertisePort: int32(addr.Port)}
}

// connectNATS connects to the external server, or starts the embedded one:
// it admits only the identities of the data directory's authority
// (<data>/nats-keys), and TLS with a certificate of ca beyond loopback.
func connectNATS(cfg upConfig, ca *pki.CA, auth *access.Authority) (*nats.Conn, func(), error) {
	if cfg.natsURL != "" {
		nf := natsFlags{url: cfg.natsURL, role: access.Admin, dataDir: cfg.dataDir}
		nc, err := nf.connect("wake up")
		if err != nil {
			return nil, nil, err
		}
		return nc, nc.Close, nil
	}
	opts := embedded.Options{Dir: filepath.Join(cfg.dataDir, "nats"), Listen: cfg.natsListen, NoSync: cfg.noSync, Auth: auth}
	if host, _, err := net.SplitHostPort(cfg.natsListen); err == nil && !embedded.Loopback(host) {
		cert, err := ca.ServerCert(serverNames(host)...)
		if err != nil {
			return nil, nil, err
		}
		opts.TLS = pki.ServerTLS(cert)
	}
	srv, err := embedded.Start(opts)
	if err != nil {
		return nil, nil, err
	}
	self, err := auth.Issue(access.Up, "", "wake up")
	if err == nil && cfg.natsListen != "" {
		err = writeNATSURL(cfg.dataDir, natsURL(srv.Addr().String(), opts.TLS != nil))
	}
	if err != nil {
		srv.Shutdown()
		return nil, nil, err
	}
	nc, err := embedded.Connect(srv, "wake up", self.Option())
	if err != nil {
		srv.Shutdown()
		return nil, nil, err
	}
	slog.Info("embedded NATS server started", "store", opts.Dir, "listen", cfg.natsListen, "tls", opts.TLS != nil,
		"credentials", filepath.Join(cfg.dataDir, credsDir))
	return nc, func() {
		nc.Drain()
		srv.Shutdown()
		srv.WaitForShutdown()
	}, nil
}

// loadOrCreateTokens reads the token file, creating it with an admin token.
func loadOrCreateTokens(path string) (gateway.Tokens, string, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		line := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", gateway.NewToken())
		if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
			return nil, "", err
		}
	}
	tokens, err := gateway.LoadTokens(path)
	if err != nil {
		return nil, "", err
	}
	for tok, u := range tokens {
		if u.Name == "admin" {
			return tokens, tok, nil
		}
	}
	return nil, "", fmt.Errorf("%s has no admin token", path)
}

func writeKubeconfig(path, server string, caPEM []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["wake"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["wake"] = &clientcmdapi.Context{Cluster: "wake", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "wake"
	return clientcmd.WriteToFile(*cfg, path)
}
