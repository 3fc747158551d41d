package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/wakehq/wake/internal/devcluster"
)

// runDev is `wake dev cluster` (a whole cluster on this machine, for demos
// and drills) and `wake dev nats` (one clustered NATS server, what the
// cluster's NATS processes run).
func runDev(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: wake dev cluster [--dir D] [--nodes N] [--subnet S] | wake dev sweep --dir D --subnet S | wake dev nats --name N --listen A --cluster A --routes URLS --store D")
	}
	switch args[0] {
	case "cluster":
		return runDevCluster(ctx, args[1:], stdout)
	case "nats":
		return runDevNATS(ctx, args[1:], stdout)
	case "sweep":
		fs := flag.NewFlagSet("dev sweep", flag.ContinueOnError)
		dir := fs.String("dir", "", "the cluster's work directory")
		subnet := fs.Int("subnet", 0, "S in the cluster's 10.250.S.0/24")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *dir == "" {
			return errors.New("--dir is required")
		}
		return devcluster.Sweep(*dir, *subnet)
	}
	return fmt.Errorf("unknown dev command %q: want cluster, sweep or nats", args[0])
}

func runDevCluster(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dev cluster", flag.ContinueOnError)
	home, _ := os.UserHomeDir()
	dir := fs.String("dir", filepath.Join(home, ".wake", "devcluster"), "work directory: logs, NATS files, agents' state, kubeconfigs (removed at exit)")
	nodes := fs.Int("nodes", 3, "agents, each in its own network namespace as its own node")
	subnet := fs.Int("subnet", 0, "S in 10.250.S.0/24 (0: the first free one)")
	auth := fs.String("auth", "", "NATS configuration whose users and permissions to enforce (deploy/nats/nats-server.conf); each role then connects as its own user")
	if err := fs.Parse(args); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	c, err := devcluster.Start(ctx, devcluster.Config{Dir: *dir, Wake: self, Nodes: *nodes, Subnet: *subnet, Auth: *auth,
		Logf: func(f string, a ...any) { fmt.Fprintf(stdout, f+"\n", a...) }})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wake dev cluster is up (Ctrl-C tears it down)\n  export KUBECONFIG=%s\n  NATS: %s\n", c.Kubeconfigs[0], c.NATSURL())
	for i, k := range c.Kubeconfigs[1:] {
		fmt.Fprintf(stdout, "  gateway%d: KUBECONFIG=%s\n", i+2, k)
	}
	fmt.Fprint(stdout, c.Describe())
	<-ctx.Done()
	fmt.Fprintln(stdout, "tearing down")
	return c.Close()
}

func runDevNATS(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dev nats", flag.ContinueOnError)
	var o devcluster.NATSOptions
	var routes string
	fs.StringVar(&o.Name, "name", "nats1", "server name")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:4222", "client address")
	fs.StringVar(&o.ClusterListen, "cluster", "127.0.0.1:6222", "route address")
	fs.StringVar(&routes, "routes", "", "nats-route:// URLs of the cluster's servers, comma-separated")
	fs.StringVar(&o.StoreDir, "store", "", "JetStream directory")
	fs.StringVar(&o.AuthFrom, "auth-from", "", "enforce the accounts, users and permissions of this NATS configuration (deploy/nats/nats-server.conf; passwords from the environment)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.StoreDir == "" {
		return errors.New("--store is required")
	}
	o.Routes = splitList(strings.TrimSpace(routes))
	return devcluster.RunNATS(ctx, o, stdout)
}
