package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/audit"
	"github.com/wakehq/wake/events/kinds"
)

// The history subcommands talk to the gateway's wake.io API group with the
// credentials of a kubeconfig, as kubectl does.

// apiClient is a gateway reached through a kubeconfig.
type apiClient struct {
	base      string
	http      *http.Client
	namespace string // the context's namespace
	rest      *rest.Config
}

// clientFlags registers --kubeconfig and -n on fs.
type clientFlags struct {
	kubeconfig, namespace string
	allNamespaces         bool
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&c.namespace, "n", "", "namespace (default: the kubeconfig context's)")
	fs.StringVar(&c.namespace, "namespace", "", "namespace (default: the kubeconfig context's)")
	fs.BoolVar(&c.allNamespaces, "A", false, "all namespaces (lists)")
}

func (c *clientFlags) client() (*apiClient, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil || ns == "" {
		ns = "default"
	}
	if c.namespace != "" {
		ns = c.namespace
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &apiClient{base: strings.TrimRight(cfg.Host, "/") + "/apis/wake.io/v1", http: hc, namespace: ns, rest: cfg}, nil
}

// get GETs path (under /apis/wake.io/v1) and returns the response for the
// caller to read; a non-2xx answer becomes an error with the Status message.
func (c *apiClient) get(ctx context.Context, path string, q url.Values, accept string) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var st metav1.Status
		if json.Unmarshal(body, &st) == nil && st.Message != "" {
			return nil, fmt.Errorf("%s (%d %s)", st.Message, resp.StatusCode, st.Reason)
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return resp, nil
}

func (c *apiClient) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	resp, err := c.get(ctx, path, q, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// getPages GETs a paged document (see the gateway's history_page.go) in
// pages of limit items (0: in one answer), following continue tokens when
// all is set, and returns one document: the first page's, with the items
// (under key) of every page, and no continue token. History pages walk
// back in time (backwards): their items are prepended.
func (c *apiClient) getPages(ctx context.Context, path string, limit int, all bool, key string, backwards bool) (json.RawMessage, error) {
	return c.pages(ctx, path, url.Values{}, "application/json", limit, all, func(page json.RawMessage, doc map[string]json.RawMessage) (string, error) {
		return mergePage(page, doc, key, backwards)
	})
}

// pages is getPages with the query, the accepted type and the merge of a
// page into the document left to the caller; merge returns the page's
// continue token.
func (c *apiClient) pages(ctx context.Context, path string, q url.Values, accept string, limit int, all bool, merge func(json.RawMessage, map[string]json.RawMessage) (string, error)) (json.RawMessage, error) {
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	doc := map[string]json.RawMessage{}
	for {
		resp, err := c.get(ctx, path, q, accept)
		if err != nil {
			return nil, err
		}
		page, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		next, err := merge(page, doc)
		if err != nil {
			return nil, err
		}
		if next == "" || !all || limit <= 0 {
			return json.Marshal(doc)
		}
		q.Set("continue", next)
	}
}

// mergePage adds a page's items (under key) to doc, the first page's other
// members included, and returns its continue token.
func mergePage(page json.RawMessage, doc map[string]json.RawMessage, key string, backwards bool) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(page, &m); err != nil {
		return "", err
	}
	var meta struct{ Continue string }
	json.Unmarshal(m["metadata"], &meta)
	var items, have []json.RawMessage
	json.Unmarshal(m[key], &items)
	json.Unmarshal(doc[key], &have)
	if len(doc) == 0 {
		for k, v := range m {
			doc[k] = v
		}
		have = nil
	}
	if backwards {
		items = append(items, have...)
	} else {
		items = append(have, items...)
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	b, _ := json.Marshal(items)
	doc[key] = b
	// The document is whole: no continue token, no remaining count.
	var md map[string]json.RawMessage
	if json.Unmarshal(doc["metadata"], &md) == nil && md != nil {
		delete(md, "continue")
		delete(md, "remainingItemCount")
		doc["metadata"], _ = json.Marshal(md)
	}
	return meta.Continue, nil
}

// objectArg is what `kind/name` (or `kind name`) names.
type objectArg struct {
	kind kinds.Kind
	name string
}

func parseObjectArgs(args []string) (objectArg, []string, error) {
	if len(args) == 0 {
		return objectArg{}, nil, errors.New("name an object: <kind>/<name> or <kind> <name>")
	}
	kind, name, ok := strings.Cut(args[0], "/")
	rest := args[1:]
	if !ok && len(rest) > 0 {
		name, rest = rest[0], rest[1:]
	}
	k, found := kinds.Resolve(kind)
	if !found {
		return objectArg{}, nil, fmt.Errorf("unknown kind %q (see kubectl api-resources)", kind)
	}
	return objectArg{kind: k, name: name}, rest, nil
}

// path is {group}/{resource}/{namespace}[/{name}] as the wake API spells it.
func (o objectArg) path(namespace string, all bool) string {
	g := o.kind.Group
	if g == "" {
		g = "core"
	}
	ns := namespace
	if !o.kind.Namespaced || (all && o.name == "") {
		ns = "_"
	}
	p := "/" + g + "/" + o.kind.Resource + "/" + url.PathEscape(ns)
	if o.name != "" {
		p += "/" + url.PathEscape(o.name)
	}
	return p
}

// parseInterspersed parses flags that may follow positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runHistory(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	out := fs.String("o", "", "output: json, yaml, or a table (default)")
	limit := fs.Int("limit", 0, "only the newest N revisions")
	chunk := fs.Int("chunk-size", 500, "read the history in pages of this many revisions (0: in one answer)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	obj, _, err := parseObjectArgs(pos)
	if err != nil || obj.name == "" {
		return fmt.Errorf("usage: wake history <kind>/<name> [-n ns] [-o json|yaml] [--limit N]: %v", err)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	pageSize := *chunk
	if *limit > 0 {
		pageSize = *limit // one page: the newest N
	}
	raw, err := c.getPages(ctx, "/history"+obj.path(c.namespace, false), pageSize, *limit == 0, "revisions", true)
	if err != nil {
		return err
	}
	var doc struct {
		Revisions []struct {
			ResourceVersion, Change, Actor, RequestID, Time string
			Diff                                            json.RawMessage
		}
	}
	if *out != "" {
		return printDoc(stdout, raw, *out)
	}
	json.Unmarshal(raw, &doc)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tTIME\tCHANGE\tACTOR\tREQUEST\tDIFF")
	for _, r := range doc.Revisions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ResourceVersion, r.Time, r.Change, r.Actor, r.RequestID, truncate(string(r.Diff), 100))
	}
	return tw.Flush()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// printDoc prints a JSON document as indented JSON or YAML.
func printDoc(w io.Writer, raw []byte, format string) error {
	switch format {
	case "json":
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(v, "", "    ")
		_, err := fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		y, err := yaml.JSONToYAML(raw)
		if err != nil {
			return err
		}
		_, err = w.Write(y)
		return err
	}
	return fmt.Errorf("unknown output format %q (json or yaml)", format)
}

// runGetAt is `wake get <kind> [name] --at <rv|time>`.
func runGetAt(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	at := fs.String("at", "", "resourceVersion or RFC 3339 time (required)")
	out := fs.String("o", "", "output: json, yaml, or a table (default)")
	selector := fs.String("l", "", "label selector")
	chunk := fs.Int("chunk-size", 500, "read a list in pages of this many objects (0: in one answer)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	obj, _, err := parseObjectArgs(pos)
	if err != nil || *at == "" {
		return fmt.Errorf("usage: wake get <kind> [name] --at <resourceVersion|RFC3339> [-n ns] [-o json|yaml]: %v", err)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	q := url.Values{"at": {*at}}
	if *selector != "" {
		q.Set("labelSelector", *selector)
	}
	accept := "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
	if *out != "" {
		accept = "application/json"
	}
	key := "items"
	if *out == "" {
		key = "rows"
	}
	limit := *chunk
	if obj.name != "" {
		limit = 0 // one object: not paged
	}
	raw, err := c.pages(ctx, "/objects"+obj.path(c.namespace, cf.allNamespaces), q, accept, limit, true, func(page json.RawMessage, doc map[string]json.RawMessage) (string, error) {
		if obj.name != "" {
			return "", json.Unmarshal(page, &doc)
		}
		return mergePage(page, doc, key, false)
	})
	if err != nil {
		return err
	}
	if *out != "" {
		return printDoc(stdout, raw, *out)
	}
	var tbl metav1.Table
	if err := json.Unmarshal(raw, &tbl); err != nil {
		return err
	}
	return printTable(stdout, tbl, cf.allNamespaces && obj.kind.Namespaced)
}

func printTable(w io.Writer, tbl metav1.Table, withNamespace bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	var head []string
	if withNamespace {
		head = append(head, "NAMESPACE")
	}
	for _, col := range tbl.ColumnDefinitions {
		if col.Priority == 0 {
			head = append(head, strings.ToUpper(col.Name))
		}
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, row := range tbl.Rows {
		var cells []string
		if withNamespace {
			var m struct {
				Metadata struct{ Namespace string }
			}
			json.Unmarshal(row.Object.Raw, &m)
			cells = append(cells, m.Metadata.Namespace)
		}
		for i, col := range tbl.ColumnDefinitions {
			if col.Priority == 0 && i < len(row.Cells) {
				cells = append(cells, fmt.Sprint(row.Cells[i]))
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func runDiff(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	out := fs.String("o", "json", "output: json or yaml")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	obj, rest, err := parseObjectArgs(pos)
	if err != nil || obj.name == "" || len(rest) != 2 {
		return fmt.Errorf("usage: wake diff <kind>/<name> <rev1> <rev2> [-n ns]")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	var doc struct{ Patch json.RawMessage }
	if err := c.getJSON(ctx, "/diff"+obj.path(c.namespace, false), url.Values{"from": {rest[0]}, "to": {rest[1]}}, &doc); err != nil {
		return err
	}
	return printDoc(stdout, doc.Patch, *out)
}

func runBlame(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("blame", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	out := fs.String("o", "", "output: json, yaml, or a table (default)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	obj, _, err := parseObjectArgs(pos)
	if err != nil || obj.name == "" {
		return fmt.Errorf("usage: wake blame <kind>/<name> [-n ns]")
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.getJSON(ctx, "/blame"+obj.path(c.namespace, false), nil, &raw); err != nil {
		return err
	}
	if *out != "" {
		return printDoc(stdout, raw, *out)
	}
	var doc struct {
		Fields []struct {
			Path, ResourceVersion, Actor, RequestID, Change, Time string
			Value                                                 json.RawMessage
		}
	}
	json.Unmarshal(raw, &doc)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tREVISION\tCHANGE\tACTOR\tREQUEST\tVALUE")
	for _, f := range doc.Fields {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Path, f.ResourceVersion, f.Change, f.Actor, f.RequestID, truncate(string(f.Value), 60))
	}
	return tw.Flush()
}

// runEvents prints CloudEvents as JSON lines.
func runEvents(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	follow := fs.Bool("follow", false, "keep printing new events")
	fs.BoolVar(follow, "f", false, "keep printing new events")
	kind := fs.String("kind", "", "only events of this kind (pods, deploy, ...)")
	typ := fs.String("type", "", "only events of these types: created, updated, deleted (comma-separated)")
	actor := fs.String("actor", "", "only events caused by this user or service")
	since := fs.String("since", "", "only events after this RFC 3339 time")
	after := fs.String("after", "", "only events after this resourceVersion")
	out := fs.String("o", "json", "output: json (CloudEvents, one per line) or wide (a summary line each)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *out != "json" && *out != "wide" {
		return fmt.Errorf("unknown output %q (json or wide)", *out)
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"kind": *kind, "type": *typ, "actor": *actor, "since": *since, "after": *after} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if cf.namespace != "" {
		q.Set("namespace", cf.namespace)
	}
	if *follow {
		q.Set("follow", "true")
	}
	return streamEvents(ctx, c, q, stdout, *out == "wide")
}

func streamEvents(ctx context.Context, c *apiClient, q url.Values, stdout io.Writer, summary bool) error {
	resp, err := c.get(ctx, "/events", q, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	bw := bufio.NewWriter(stdout)
	defer bw.Flush()
	for sc.Scan() {
		line := sc.Bytes()
		if summary {
			var ce map[string]any
			json.Unmarshal(line, &ce)
			fmt.Fprintf(bw, "%v  %-28v %-10v %-40v %v %v\n", ce["time"], ce["type"], ce["wakechange"], ce["subject"], ce["wakeactor"], ce["wakerequestid"])
		} else {
			bw.Write(line)
			bw.WriteByte('\n')
		}
		if q.Get("follow") != "" {
			bw.Flush()
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

func runReplay(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	var cf clientFlags
	cf.register(fs)
	to := fs.String("to", "", "replay up to this resourceVersion (default: the live projection's)")
	verify := fs.Bool("verify", false, "exit with an error when any state differs")
	out := fs.String("o", "", "output: json or yaml (default: a summary)")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	if *to != "" {
		q.Set("to", *to)
	}
	var raw json.RawMessage
	if err := c.getJSON(ctx, "/replay", q, &raw); err != nil {
		return err
	}
	var doc struct {
		ResourceVersion, LiveHash, LogHash, SnapshotHash, SnapshotResourceVersion, FirstDifference string
		Objects, SkippedEvents, ReplayMillis                                                       int
		Match                                                                                      bool
		Quarantined                                                                                []quarantinedMsg
	}
	json.Unmarshal(raw, &doc)
	if *out != "" {
		if err := printDoc(stdout, raw, *out); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "replayed to resourceVersion %s: %d objects, %d events skipped, %d ms\n", doc.ResourceVersion, doc.Objects, doc.SkippedEvents, doc.ReplayMillis)
		fmt.Fprintf(stdout, "  from the log:      %s\n", doc.LogHash)
		if doc.SnapshotHash != "" {
			fmt.Fprintf(stdout, "  from snapshot %-5s %s\n", doc.SnapshotResourceVersion+":", doc.SnapshotHash)
		}
		if doc.LiveHash != "" {
			fmt.Fprintf(stdout, "  live projection:   %s\n", doc.LiveHash)
		}
		printQuarantined(stdout, doc.Quarantined)
		if doc.Match {
			fmt.Fprintln(stdout, "match")
		} else {
			fmt.Fprintf(stdout, "MISMATCH: first differing object %s\n", doc.FirstDifference)
		}
	}
	if *verify && !doc.Match {
		return fmt.Errorf("replay does not match: first differing object %s", doc.FirstDifference)
	}
	return nil
}

// quarantinedMsg is one message the projection quarantined
// (projections.Quarantined).
type quarantinedMsg struct {
	Seq             uint64
	Subject, Reason string
}

// printQuarantined lists the quarantined messages: not a failure of
// replay or audit (the fold skips them alike everywhere), but the
// operator must see them.
func printQuarantined(w io.Writer, qs []quarantinedMsg) {
	if len(qs) == 0 {
		return
	}
	fmt.Fprintf(w, "%d quarantined (folded as if absent):\n", len(qs))
	for _, q := range qs {
		fmt.Fprintf(w, "  event %d on %s: %s\n", q.Seq, q.Subject, q.Reason)
	}
}

// runSealer hash-chains the log into WAKE_AUDIT (events/audit) for `wake
// audit verify`. A failing sealer is logged, never fatal to the control
// plane.
func runSealer(ctx context.Context, log *events.Log) error {
	seals, err := audit.OpenSeals(ctx, log.JetStream(), false)
	if err == nil {
		err = audit.NewSealer(log, seals, audit.Options{}).Run(ctx)
	}
	if err != nil && ctx.Err() == nil {
		slog.Warn("audit sealer stopped", "err", err)
	}
	return nil
}
