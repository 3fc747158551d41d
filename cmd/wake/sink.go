package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/services/sink"
)

const sinkUsage = `usage:
  wake sink add NAME --url URL [--resource R] [--namespace NS] [--type T] [--from SEQ] [--secrets metadata|full]
  wake sink ls
  wake sink rm NAME
(NATS flags: --nats, default the embedded server of the local wake up, with its admin credentials)`

// runSink manages CloudEvents HTTP sinks in the WAKE_SINKS bucket, talking
// to NATS directly; the sink service (in wake up and wake controllers)
// picks changes up from there.
func runSink(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(sinkUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("sink "+sub, flag.ContinueOnError)
	var nf natsFlags
	nf.register(fs)
	var reg sink.Registration
	if sub == "add" {
		fs.StringVar(&reg.URL, "url", "", "the sink: an absolute http(s) URL receiving CloudEvents (binary mode)")
		fs.StringVar(&reg.Resource, "resource", "", "only this kind: pods, deploy, deployments.apps (default all)")
		fs.StringVar(&reg.Namespace, "namespace", "", "only this namespace (default all, and cluster-scoped objects)")
		fs.StringVar(&reg.Type, "type", "", "only this event type: created, updated, deleted or a full type")
		fs.Uint64Var(&reg.From, "from", 0, "first stream sequence to deliver (default: every retained event)")
		fs.StringVar(&reg.Secrets, "secrets", "", "deliver Secrets too: metadata (without their values) or full (default: no Secrets)")
	}
	// Flags may come before or after NAME.
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var name string
	if rest := fs.Args(); len(rest) > 0 {
		name = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), sinkUsage)
		}
	}
	if (sub == "ls") != (name == "") {
		return errors.New(sinkUsage)
	}
	nc, err := nf.connect("wake sink")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	store, err := sink.OpenStore(ctx, js, nf.replicas)
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		reg.Name = name
		r, err := store.Add(ctx, reg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sink %s added: %s ← %s\n", r.Name, r.URL, r.FilterSubject())
		return nil
	case "rm":
		if err := store.Remove(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sink %s removed\n", name)
		return nil
	case "ls":
		return listSinks(ctx, js, store, stdout)
	}
	return errors.New(sinkUsage)
}

func listSinks(ctx context.Context, js jetstream.JetStream, store *sink.Store, stdout io.Writer) error {
	regs, err := store.List(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tURL\tRESOURCE\tNAMESPACE\tTYPE\tSECRETS\tDELIVERED\tPENDING")
	for _, r := range regs {
		delivered, pending := "-", "-"
		if c, err := js.Consumer(ctx, events.StreamName, sink.ConsumerName(r.Name)); err == nil {
			if info, err := c.Info(ctx); err == nil {
				delivered = strconv.FormatUint(info.AckFloor.Stream, 10)
				pending = strconv.FormatUint(info.NumPending+uint64(info.NumAckPending), 10)
			}
		}
		secrets := r.Secrets
		if secrets == "" {
			secrets = "none"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.URL, orAll(r.Resource), orAll(r.Namespace), orAll(r.Type), secrets, delivered, pending)
	}
	return tw.Flush()
}

func orAll(s string) string {
	if s == "" {
		return "*"
	}
	return s
}
