package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wakehq/wake/agent"
	"github.com/wakehq/wake/agent/runtime/libct"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/access"
	"github.com/wakehq/wake/projections"
)

// init lets the wake binary be every container's init: libcontainer
// re-executes /proc/self/exe with the argument "init" inside the new
// namespaces (its nsenter package, imported by libct, has already run as a
// C constructor by then). It never returns in that case.
func init() { libct.Init() }

// runAgent is `wake agent`: the node agent against a NATS cluster.
func runAgent(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	var nf natsFlags
	nf.register(fs)
	host, _ := os.Hostname()
	node := fs.String("node", host, "this node's name")
	state := fs.String("state", "/var/lib/wake/agent", "state directory: images, containers, sandboxes, address leases")
	podCIDR := fs.String("pod-cidr", "", "pod CIDR written into the node when it has none (default: wait for the controllers' node IPAM to assign one)")
	clusterCIDR := fs.String("cluster-cidr", agent.DefaultClusterCIDR, "pod network of the whole cluster: pod traffic leaving it is masqueraded")
	nodeIP := fs.String("node-ip", "", "this node's InternalIP, which other nodes route its pods through (default: the address of the default route's interface)")
	clusterDomain := fs.String("cluster-domain", agent.DefaultClusterDomain, "DNS domain of the cluster, served to pods on the bridge address, port 53")
	insecure := fs.String("insecure-registries", "", "registries (host:port, comma-separated) reached over plain HTTP")
	metricRes := fs.Duration("metric-resolution", agent.DefaultMetricsResolution, "how often resource usage is sampled for kubectl top (metrics.k8s.io)")
	protect := fs.String("protect", "", "more host paths (comma-separated) that hostPath volumes may never reach, e.g. the NATS data directory")
	join := fs.String("join", os.Getenv("WAKE_JOIN_TOKEN"), "join token from `wake join NODE` on the control plane's machine: stored in the state directory, needed once (env WAKE_JOIN_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("the agent needs root (namespaces, cgroups, mounts, network)")
	}
	nodeSet := false
	fs.Visit(func(f *flag.Flag) { nodeSet = nodeSet || f.Name == "node" })
	if err := useJoin(&nf, *state, *join, node, nodeSet); err != nil {
		return err
	}
	nf.node = *node
	nc, err := nf.dial(ctx, "wake agent "+*node)
	if err != nil {
		return err
	}
	defer nc.Close()
	signer, err := nf.signer()
	if err != nil {
		return err
	}
	log, err := openLog(ctx, nc, events.Config{Replicas: nf.replicas, KeepMaxAge: true, KeepMaxBytes: true, Signer: signer})
	if err != nil {
		return err
	}
	snaps, err := projections.OpenSnapshots(ctx, log.JetStream(), nf.replicas, false)
	if err != nil {
		return err
	}
	proj := projections.New(projections.Options{NoRevisionIndex: true}) // no time-travel reads here
	a, err := agent.New(agent.Config{
		NodeName: *node, StateDir: *state, Log: log, View: proj,
		PodCIDR: *podCIDR, InsecureRegistries: splitList(*insecure), ProtectedPaths: splitList(*protect),
		Version: Version, ServiceProxy: true,
		ClusterCIDR: *clusterCIDR, NodeIP: *nodeIP, NodeRoutes: true, ClusterDNS: true, ClusterDomain: *clusterDomain,
		MetricsResolution: *metricRes,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wake agent %s: state in %s, following the log\n", *node, *state)
	return runParts(ctx, func(ctx context.Context) error { return proj.Run(ctx, log, snaps) }, a.Run)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// runParts runs functions until ctx ends or one fails.
func runParts(ctx context.Context, parts ...func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range parts {
		g.Go(func() error { return p(ctx) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// localAgent is the agent of `wake up`, or nil when it cannot run. Its
// state lives in <data>/agent; the whole data directory (NATS files, CA,
// tokens) is out of reach of hostPath volumes.
// Its pod CIDR comes from the node IPAM controller running beside it
// (10.244.0.0/24 for the first node of the default cluster CIDR).
func localAgent(dataDir, clusterCIDR string, metricRes time.Duration, log *events.Log, view *projections.Projection) runner {
	a, err := agent.New(agent.Config{
		NodeName: localNodeName(), StateDir: filepath.Join(dataDir, "agent"), Log: log, View: view,
		ProtectedPaths: []string{dataDir}, Version: Version, ServiceProxy: true,
		ClusterCIDR: clusterCIDR, NodeRoutes: true, ClusterDNS: true, MetricsResolution: metricRes,
	})
	if err != nil {
		slog.Warn("no local agent", "err", err)
		return nil
	}
	return a
}

// localNodeName is the node `wake up`'s agent runs as: this machine's
// name, in lower case as node names are.
func localNodeName() string {
	host, _ := os.Hostname()
	return strings.ToLower(host)
}

// Files of a joined agent's state directory.
const (
	joinedCreds = "nats.creds"
	joinedCA    = "nats-ca.crt"
	joinedURL   = "nats-url"
	joinedNode  = "node"
)

// useJoin sets the agent's NATS identity: from a join token, which it
// stores in the state directory (mode 0600) for every later start, or
// from what an earlier join stored there. Flags given explicitly win.
func useJoin(nf *natsFlags, state, token string, node *string, nodeSet bool) error {
	nf.role = access.Agent
	if token != "" {
		j, err := access.ParseJoinToken(token)
		if err != nil {
			return err
		}
		if nodeSet && *node != j.Node {
			return fmt.Errorf("--node %s, but the join token is for node %s", *node, j.Node)
		}
		if err := os.MkdirAll(state, 0o700); err != nil {
			return err
		}
		files := map[string]string{joinedCreds: j.Creds, joinedURL: j.Servers, joinedCA: j.CA, joinedNode: j.Node}
		for name, content := range files {
			path := filepath.Join(state, name)
			if content == "" {
				os.Remove(path)
				continue
			}
			if err := access.WriteSecret(path, []byte(content)); err != nil {
				return err
			}
		}
		slog.Info("joined: credentials stored", "node", j.Node, "servers", j.Servers, "state", state)
	}
	if b, err := os.ReadFile(filepath.Join(state, joinedNode)); err == nil {
		joined := strings.TrimSpace(string(b))
		if nodeSet && *node != joined {
			return fmt.Errorf("--node %s, but this agent joined as node %s (%s)", *node, joined, state)
		}
		*node = joined
	}
	if b, err := os.ReadFile(filepath.Join(state, joinedURL)); err == nil && nf.url == "" {
		nf.url = strings.TrimSpace(string(b))
	}
	if path := filepath.Join(state, joinedCreds); nf.creds == "" && fileExists(path) {
		nf.creds = path
	}
	if path := filepath.Join(state, joinedCA); nf.ca == "" && fileExists(path) {
		nf.ca = path
	}
	return nil
}
