package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/audit"
)

const auditUsage = `usage:
  wake audit [--user U] [--since T] [--kind K] [-o json]   who did what
  wake audit verify                                        check the log against its seals and signatures
  wake audit remove SEQ --reason TEXT [--as NAME] [--signing-key FILE]
      record that event SEQ is removed (a poison or forged event); NATS flags:
      --nats, --nats-creds (default: the local wake up's, with its admin credentials)`

// runAudit is `wake audit verify`, `wake audit remove` and `wake audit
// [--user X] [--since T]`.
func runAudit(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "verify":
			return runAuditVerify(ctx, args[1:], stdout)
		case "remove":
			return runAuditRemove(ctx, args[1:], stdout)
		case "help", "-h", "--help":
			return errors.New(auditUsage)
		}
	}
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	user := fs.String("user", "", "only what this user or service did")
	since := fs.String("since", "", "only after this RFC 3339 time")
	kind := fs.String("kind", "", "only objects of this kind")
	out := fs.String("o", "wide", "output: wide (a line per change) or json (CloudEvents)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"actor": *user, "since": *since, "kind": *kind} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return streamEvents(ctx, c, q, stdout, *out != "json")
}

// runAuditVerify asks the gateway to verify the log (the gateway holds
// the trusted signers) and fails, naming every event or range, when it
// does not match.
func runAuditVerify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	var doc struct {
		Report      audit.Report
		Quarantined []quarantinedMsg // the projection's record
	}
	if err := c.getJSON(ctx, "/audit/verify", nil, &doc); err != nil {
		return err
	}
	printQuarantined(stdout, doc.Quarantined)
	r := doc.Report
	return printVerify(stdout, &r)
}

func printVerify(w io.Writer, r *audit.Report) error {
	fmt.Fprintf(w, "%d seals cover %d events up to resourceVersion %d (log at %d, oldest retained %d; %s); %d discarded by retention\n",
		r.Seals, r.SealedEvents, r.SealedUpTo, r.LastSeq, r.FirstSeq, r.Retention, r.Discarded)
	switch {
	case r.Signatures != "checked":
		fmt.Fprintf(w, "signatures %s\n", r.Signatures)
	case r.SignedFrom == 0:
		fmt.Fprintln(w, "signatures checked: no event is signed yet (the log predates signing)")
	default:
		fmt.Fprintf(w, "signatures checked: %d signed events from resourceVersion %d on", r.SignedEvents, r.SignedFrom)
		if r.UnsignedBeforeSigning > 0 {
			fmt.Fprintf(w, "; %d older unsigned events predate signing", r.UnsignedBeforeSigning)
		}
		fmt.Fprintln(w)
	}
	for _, rm := range r.Removed {
		fmt.Fprintf(w, "event %d: removed by %s at %s: %s\n", rm.Seq, rm.Actor, rm.Time, rm.Reason)
	}
	var ranges []string
	for _, p := range r.Problems {
		noun := "event"
		if p.Through > p.Seq {
			noun = "events"
		}
		fmt.Fprintf(w, "%s %s: %s: %s\n", noun, p.Range(), p.Kind, p.Detail)
		if len(ranges) < 5 {
			ranges = append(ranges, p.Kind+" "+p.Range())
		}
	}
	if !r.OK {
		if len(r.Problems) > len(ranges) {
			ranges = append(ranges, "…")
		}
		noun := "problems"
		if len(r.Problems) == 1 {
			noun = "problem"
		}
		return fmt.Errorf("the log does not match its seals (%d %s: %s)", len(r.Problems), noun, strings.Join(ranges, ", "))
	}
	fmt.Fprintln(w, "ok")
	return nil
}

// runAuditRemove records an operator's removal of one event in
// WAKE_AUDIT, over NATS with an administrator's credentials.
func runAuditRemove(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("audit remove", flag.ContinueOnError)
	var nf natsFlags
	nf.register(fs)
	reason := fs.String("reason", "", "why the event is removed (required; recorded)")
	as := fs.String("as", "", "who removes it (default: the OS user)")
	keyFile := fs.String("signing-key", "", "nkey seed or credentials file to sign the record with (default: the --nats-creds key)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New(auditUsage)
	}
	seq, err := strconv.ParseUint(rest[0], 10, 64)
	if err != nil || seq == 0 {
		return fmt.Errorf("SEQ %q: want the event's sequence (its resourceVersion)\n%s", rest[0], auditUsage)
	}
	if strings.TrimSpace(*reason) == "" {
		return errors.New("--reason is required: it is recorded in the audit")
	}
	actor := *as
	if actor == "" {
		actor = osUser()
	}
	nc, err := nf.connect("wake audit remove") // finds the local admin's credentials
	if err != nil {
		return err
	}
	defer nc.Close()
	var signer nkeys.KeyPair
	if f := cmp.Or(*keyFile, nf.creds); f != "" {
		if signer, err = events.LoadSigner(f); err != nil {
			return err
		}
	}
	// Adopt the stream as it is: no retention or replica change.
	log, err := events.Open(ctx, nc, events.Config{KeepMaxAge: true, KeepMaxBytes: true})
	if err != nil {
		return err
	}
	seals, err := audit.OpenSeals(ctx, log.JetStream(), false)
	if err != nil {
		return err
	}
	rm, err := audit.Remove(ctx, log, seals, seq, audit.RemoveOptions{Reason: *reason, Actor: actor, Signer: signer})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "event %d (%s) recorded as removed by %s: %s\n", rm.Seq, rm.Subject, rm.Actor, rm.Reason)
	if rm.Signer == "" {
		fmt.Fprintln(stdout, "the record is not signed: a verify with trusted signers will not accept it (--signing-key)")
	}
	fmt.Fprintln(stdout, "the stream denies deletes, so the event stays stored; wake audit verify skips it and explains its absence")
	return nil
}

func osUser() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
