package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/nats-io/nkeys"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/access"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/cronjob"
	"github.com/wakehq/wake/services/controllers/daemonset"
	"github.com/wakehq/wake/services/controllers/deployment"
	"github.com/wakehq/wake/services/controllers/endpoints"
	"github.com/wakehq/wake/services/controllers/endpointslice"
	"github.com/wakehq/wake/services/controllers/garbagecollector"
	"github.com/wakehq/wake/services/controllers/hpa"
	"github.com/wakehq/wake/services/controllers/job"
	"github.com/wakehq/wake/services/controllers/namespace"
	"github.com/wakehq/wake/services/controllers/nodeipam"
	"github.com/wakehq/wake/services/controllers/nodelifecycle"
	"github.com/wakehq/wake/services/controllers/quarantine"
	"github.com/wakehq/wake/services/controllers/replicaset"
	"github.com/wakehq/wake/services/controllers/servicelb"
	"github.com/wakehq/wake/services/controllers/statefulset"
	"github.com/wakehq/wake/services/ipam"
	"github.com/wakehq/wake/services/lease"
	"github.com/wakehq/wake/services/reconcile"
	"github.com/wakehq/wake/services/scheduler"
)

// controllerLoops are the controllers `wake controllers` runs while it
// holds the "controllers" lease, with the default cluster CIDR.
func controllerLoops(log *events.Log, view *projections.Projection) []*reconcile.Loop {
	return controllerLoopsWith(log, view, nil)
}

// controllerLoopsWith is controllerLoops with the node IPAM allocator of
// --cluster-cidr (nil: the default, 10.244.0.0/16 with a /24 per node).
func controllerLoopsWith(log *events.Log, view *projections.Projection, pods *nodeipam.Allocator) []*reconcile.Loop {
	if pods == nil {
		pods = defaultPodAllocator()
	}
	return []*reconcile.Loop{
		namespace.Loop(log, view),
		garbagecollector.Loop(log, view),
		deployment.Loop(log, view),
		replicaset.Loop(log, view),
		nodelifecycle.Loop(log, view),
		job.Loop(log, view),
		cronjob.Loop(log, view),
		statefulset.Loop(log, view),
		daemonset.Loop(log, view),
		hpa.Loop(log, view, &nodeMetrics{nc: log.JetStream().Conn()}),
		endpoints.Loop(log, view),
		endpointslice.Loop(log, view),
		servicelb.Loop(log, view),
		ipam.Loop(log, view),
		nodeipam.Loop(log, view, pods),
	}
}

func defaultPodAllocator() *nodeipam.Allocator {
	a, err := nodeipam.New(nodeipam.DefaultClusterCIDR, nodeipam.DefaultNodeMaskSize)
	if err != nil {
		panic(err) // the defaults are valid
	}
	return a
}

// clusterFlags are the pod network's flags of `wake controllers` and
// `wake up`: the range node pod CIDRs come from.
type clusterFlags struct {
	cidr  string
	size  int
	alloc *nodeipam.Allocator
}

func (f *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.cidr, "cluster-cidr", nodeipam.DefaultClusterCIDR, "pod network: every node gets its spec.podCIDR from this range")
	fs.IntVar(&f.size, "node-cidr-mask-size", nodeipam.DefaultNodeMaskSize, "prefix length of each node's pod CIDR")
}

// check validates the flags once parsed.
func (f *clusterFlags) check() (err error) {
	f.alloc, err = nodeipam.New(f.cidr, f.size)
	if err != nil {
		return fmt.Errorf("--cluster-cidr/--node-cidr-mask-size: %w", err)
	}
	return nil
}

// newScheduler builds the scheduler service; a variable so that the role
// can be tested (or built) without it.
var newScheduler = func(log *events.Log, view *projections.Projection) runner {
	return scheduler.New(log, view)
}

// runner is one long-running part of a role.
type runner interface {
	Run(ctx context.Context) error
}

// roleConfig is one service role: it connects, follows the log with its
// own projection, and runs its parts only while holding its lease.
type roleConfig struct {
	name     string // the lease: "controllers", "scheduler"
	id       string // this process among the candidates
	lease    lease.Options
	memory   bool // tests: memory snapshots
	replicas int  // of the stream and buckets, when this role creates them
	// retention is the stream's MaxAge and MaxBytes; nil keeps the stream's.
	retention *events.Config
	// signer signs the events the role appends (nil: unsigned).
	signer nkeys.KeyPair
	parts  func(*events.Log, *projections.Projection) []runner
}

func runControllers(ctx context.Context, args []string, stdout io.Writer) error {
	var cf clusterFlags
	return runRoleCommandWith(ctx, "controllers", args, stdout, func(fs *flag.FlagSet) func() error {
		cf.register(fs)
		return cf.check
	}, func(log *events.Log, view *projections.Projection) []runner {
		var out []runner
		for _, l := range controllerLoopsWith(log, view, cf.alloc) {
			out = append(out, l)
		}
		return append(out, newSinks(log), quarantine.New(log, view))
	})
}

func runScheduler(ctx context.Context, args []string, stdout io.Writer) error {
	return runRoleCommand(ctx, "scheduler", args, stdout, func(log *events.Log, view *projections.Projection) []runner {
		return []runner{newScheduler(log, view)}
	})
}

func runRoleCommand(ctx context.Context, name string, args []string, stdout io.Writer, parts func(*events.Log, *projections.Projection) []runner) error {
	return runRoleCommandWith(ctx, name, args, stdout, nil, parts)
}

// runRoleCommandWith is runRoleCommand with the role's own flags: flags
// registers them and returns their check, run after parsing.
func runRoleCommandWith(ctx context.Context, name string, args []string, stdout io.Writer, flags func(*flag.FlagSet) func() error,
	parts func(*events.Log, *projections.Projection) []runner) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	check := func() error { return nil }
	if flags != nil {
		check = flags(fs)
	}
	nf := natsFlags{role: access.Role(name)}
	nf.register(fs)
	host, _ := os.Hostname()
	id := fs.String("id", fmt.Sprintf("%s-%d", host, os.Getpid()), "this replica's identity in leader election")
	var rf retentionFlags
	rf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := check(); err != nil {
		return err
	}
	retention, err := rf.config()
	if err != nil {
		return err
	}
	nc, err := nf.dial(ctx, "wake "+name+" "+*id)
	if err != nil {
		return err
	}
	defer nc.Close()
	fmt.Fprintf(stdout, "wake %s %s: following the log, standing by for the %q lease\n", name, *id, name)
	signer, err := nf.signer()
	if err != nil {
		return err
	}
	return runRole(ctx, nc, roleConfig{name: name, id: *id, replicas: nf.replicas, retention: &retention, signer: signer, parts: parts})
}

// runRole runs one role over nc until ctx ends or a part fails.
func runRole(ctx context.Context, nc *nats.Conn, cfg roleConfig) error {
	stream := events.Config{KeepMaxAge: true, KeepMaxBytes: true}
	if cfg.retention != nil {
		stream = *cfg.retention
	}
	stream.Replicas, stream.Signer = cfg.replicas, cfg.signer
	log, err := openLog(ctx, nc, stream)
	if err != nil {
		return err
	}
	snaps, err := projections.OpenSnapshots(ctx, log.JetStream(), cfg.replicas, cfg.memory)
	if err != nil {
		return err
	}
	proj := projections.New(projections.Options{NoRevisionIndex: true}) // no time-travel reads here
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return proj.Run(ctx, log, snaps) })
	g.Go(func() error {
		select {
		case <-proj.Ready():
		case <-ctx.Done():
			return nil
		}
		return lease.RunWith(ctx, log.JetStream(), cfg.name, cfg.id, cfg.lease, func(ctx context.Context) error {
			slog.Info("leading", "role", cfg.name, "id", cfg.id)
			// Parts are built afresh for each term: nothing carries over
			// from a previous term but the projection.
			parts, ctx := errgroup.WithContext(ctx)
			for _, p := range cfg.parts(log, proj) {
				parts.Go(func() error { return p.Run(ctx) })
			}
			return parts.Wait()
		})
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
