package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/access"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/dns"
)

// runDNS is `wake dns`: cluster DNS for one node (or a few), following the
// log with its own projection. It takes no lease: every replica serves.
func runDNS(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("dns", flag.ContinueOnError)
	nf := natsFlags{role: access.Gateway} // it only reads, as a gateway does
	nf.register(fs)
	var cfg dns.Config
	var upstreams string
	fs.StringVar(&cfg.Listen, "listen", dns.DefaultListen, "UDP and TCP address to serve on (pods need the node's address, port 53)")
	fs.StringVar(&cfg.Zone, "zone", "cluster.local", "the cluster domain")
	fs.StringVar(&upstreams, "upstream", "", "resolvers for names outside the zone, comma-separated ip[:port] (default: the nameservers of --resolv-conf)")
	fs.StringVar(&cfg.ResolvConf, "resolv-conf", "/etc/resolv.conf", "where to read upstream resolvers when --upstream is empty")
	fs.DurationVar(&cfg.ForwardTimeout, "forward-timeout", 2*time.Second, "timeout of each upstream attempt")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if upstreams != "" {
		cfg.Upstreams = strings.Split(upstreams, ",")
	}
	host, _ := os.Hostname()
	nc, err := nf.dial(ctx, fmt.Sprintf("wake dns %s-%d", host, os.Getpid()))
	if err != nil {
		return err
	}
	defer nc.Close()
	log, err := openLog(ctx, nc, events.Config{Replicas: nf.replicas, KeepMaxAge: true, KeepMaxBytes: true})
	if err != nil {
		return err
	}
	snaps, err := projections.OpenSnapshots(ctx, log.JetStream(), nf.replicas, false)
	if err != nil {
		return err
	}
	proj := projections.New(projections.Options{NoRevisionIndex: true}) // no time-travel reads here
	srv := dns.New(proj, cfg)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return proj.Run(ctx, log, snaps) })
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error {
		select {
		case <-srv.Ready():
			fmt.Fprintf(stdout, "wake dns: serving %s on %s (udp, tcp)\n", cfg.Zone, srv.Addr())
		case <-ctx.Done():
		}
		return nil
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
