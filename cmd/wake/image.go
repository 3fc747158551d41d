package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wakehq/wake/agent"
	"github.com/wakehq/wake/agent/image"
)

const imageUsage = `usage:
  wake image ls [--node N] [-o json]
  wake image import [--node N] FILE     (a docker-archive or OCI-layout tarball)
(--node defaults to this machine's hostname; NATS flags: --nats, default
the embedded server of the local wake up, with its admin credentials)`

// runImage lists and imports the images of a node's store. The store is
// not safe for several processes, so both go through the node's agent on
// NATS (agent/imageserver.go).
func runImage(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "ls" && args[0] != "import") {
		return errors.New(imageUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("image "+sub, flag.ContinueOnError)
	var nf natsFlags
	nf.register(fs)
	host, _ := os.Hostname()
	node := fs.String("node", strings.ToLower(host), "the node whose store to use")
	output := fs.String("o", "", "ls: output format (json; default a table)")
	// Flags may come before or after FILE.
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var file string
	if rest := fs.Args(); len(rest) > 0 {
		file = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), imageUsage)
		}
	}
	if (sub == "import") != (file != "") {
		return errors.New(imageUsage)
	}
	nc, err := nf.connect("wake image " + sub)
	if err != nil {
		return err
	}
	defer nc.Close()
	c := &agent.ImageClient{NC: nc, Node: *node}
	if sub == "ls" {
		ims, err := c.List(ctx)
		if err != nil {
			return err
		}
		return printImages(stdout, ims, *output)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", file)
	}
	ims, err := c.Import(ctx, f, fi.Size(), filepath.Base(file), nil)
	if err != nil {
		return fmt.Errorf("node %s: %w", *node, err)
	}
	for _, im := range ims {
		refs := strings.Join(im.Refs, ", ")
		if refs == "" {
			refs = "<none>"
		}
		fmt.Fprintf(stdout, "imported %s (%s, %s) on node %s\n", refs, shortID(im.ID), humanSize(im.Size), *node)
	}
	return nil
}

// printImages is `crictl images`-like: one line per reference.
func printImages(w io.Writer, ims []image.Image, output string) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if ims == nil {
			ims = []image.Image{}
		}
		return enc.Encode(ims)
	case "":
	default:
		return fmt.Errorf("unknown output format %q (json or a table)", output)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tTAG\tIMAGE ID\tSIZE\tADDED")
	for _, im := range ims {
		refs := im.Refs
		if len(refs) == 0 {
			refs = []string{"<none>"}
		}
		for _, r := range refs {
			repo, tag := splitRef(r)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", repo, tag, shortID(im.ID), humanSize(im.Size), im.Added.Format(time.DateTime))
		}
	}
	return tw.Flush()
}

func splitRef(r string) (repo, tag string) {
	if i := strings.LastIndex(r, "@"); i >= 0 {
		return r[:i], "<none>"
	}
	if i := strings.LastIndex(r, ":"); i > strings.LastIndex(r, "/") {
		return r[:i], r[i+1:]
	}
	return r, "<none>"
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	return id[:min(len(id), 13)]
}

// humanSize is n in decimal units, as crictl and docker print sizes.
func humanSize(n int64) string {
	f, units := float64(n), []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for ; f >= 1000 && i < len(units)-1; i++ {
		f /= 1000
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
