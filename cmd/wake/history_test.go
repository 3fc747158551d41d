package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// wakeRun runs a history subcommand against c and returns its output.
func wakeRun(t *testing.T, c *cluster, cmd func(context.Context, []string, io.Writer) error, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := cmd(t.Context(), append(args, "--kubeconfig", c.kubeconfig), &out); err != nil {
		t.Fatalf("wake %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func TestHistoryCLI(t *testing.T) {
	c := startWake(t, t.TempDir())
	c.must(t, "create", "configmap", "hist", "--from-literal=mode=one")
	rv1 := c.must(t, "get", "cm", "hist", "-o", "jsonpath={.metadata.resourceVersion}")
	c.must(t, "patch", "cm", "hist", "--type=merge", "-p", `{"data":{"mode":"two"}}`)
	rv2 := c.must(t, "get", "cm", "hist", "-o", "jsonpath={.metadata.resourceVersion}")

	out := wakeRun(t, c, runHistory, "configmap/hist")
	contains(t, out, "REVISION", rv1, rv2, "created", "spec", "admin", `{"data":{"mode":"two"}`)

	out = wakeRun(t, c, runGetAt, "cm", "hist", "--at", rv1, "-o", "json")
	var cm struct {
		Data     map[string]string
		Metadata struct{ ResourceVersion string }
	}
	if err := json.Unmarshal([]byte(out), &cm); err != nil || cm.Data["mode"] != "one" || cm.Metadata.ResourceVersion != rv1 {
		t.Fatalf("get --at %s: %v %s", rv1, err, out)
	}
	contains(t, wakeRun(t, c, runGetAt, "configmaps", "--at", rv1), "NAME", "hist")
	contains(t, wakeRun(t, c, runGetAt, "ns", "--at", rv2), "default", "kube-system")

	contains(t, wakeRun(t, c, runDiff, "cm/hist", rv1, rv2), `"mode": "two"`)
	contains(t, wakeRun(t, c, runBlame, "cm/hist"), ".data.mode", rv2, "admin")

	out = wakeRun(t, c, runEvents, "--kind", "cm", "--type", "created", "-o", "json")
	contains(t, out, `"specversion":"1.0"`, `"subject":"configmaps/default/hist"`, `"wakeactor":"admin"`)

	contains(t, wakeRun(t, c, runReplay, "--verify"), "match")
	contains(t, wakeRun(t, c, runReplay, "--verify", "--to", rv1), "match")
	contains(t, wakeRun(t, c, runAudit, "--user", "admin"), "configmaps/default/hist")

	var out2 bytes.Buffer
	if err := runHistory(t.Context(), []string{"cm/never", "--kubeconfig", c.kubeconfig}, &out2); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("history of a missing object: %v", err)
	}
}
