// Command wake is the one binary of wake: `wake up` runs the whole control
// plane on one machine; the other subcommands run one role each against a
// NATS cluster.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout io.Writer) error
}

var commands = map[string]command{
	"up":          {"run the whole control plane on this machine, with an embedded NATS server", runUp},
	"agent":       {"run the node agent: pods bound to this node become containers", runAgent},
	"gateway":     {"run the Kubernetes API gateway against a NATS server", runGateway},
	"version":     {"print wake's version", runVersion},
	"bench":       {"measure a `wake up` child: latencies, LIST, memory, restart", runBench},
	"bench-sched": {"measure scheduling in a `wake up` child: fake nodes, one Deployment, pods bound/s", runBenchSched},
	"controllers": {"run the controllers against a NATS server (leader-elected)", runControllers},
	"scheduler":   {"run the scheduler against a NATS server (leader-elected)", runScheduler},
	"dns":         {"serve cluster DNS (cluster.local) from the log; forward other names", runDNS},
	"history":     {"every revision of an object: who changed what, when", runHistory},
	"get":         {"an object or a list as it was at a resourceVersion or time (--at)", runGetAt},
	"diff":        {"what changed in an object between two revisions", runDiff},
	"explain":     {"why an object (a pod) is where it is and in its state, from its history", runExplain},
	"rollout":     {"rollout history|undo deploy/NAME over every revision in the log (--to-revision N)", runRollout},
	"blame":       {"which actor and request last set each field of an object", runBlame},
	"events":      {"the event log as CloudEvents, one JSON object per line", runEvents},
	"replay":      {"rebuild the state from the log and compare it with the live one", runReplay},
	"audit":       {"who did what (--user, --since); audit verify: the log against its seals and signatures; audit remove SEQ --reason R", runAudit},
	"sink":        {"CloudEvents HTTP sinks: sink add NAME --url URL [filters], sink ls, sink rm NAME", runSink},
	"join":        {"on the control plane's machine: a token that lets one node's agent join (wake agent --join)", runJoin},
	"image":       {"a node's images through its agent: image ls [--node N], image import FILE", runImage},
	"dev":         {"a whole cluster on this machine (dev cluster) for demos and drills; dev nats runs one of its NATS servers", runDev},
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]].run == nil {
		usage(os.Stderr)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err := commands[os.Args[1]].run(ctx, os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "wake %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: wake <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
}

// Version is wake's version, set at build time with -ldflags.
var Version = "dev"

func runVersion(ctx context.Context, args []string, stdout io.Writer) error {
	fmt.Fprintf(stdout, "wake %s (Kubernetes API v1.37)\n", Version)
	return nil
}
