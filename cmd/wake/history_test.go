package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
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

	// Read a page at a time, the same answers.
	contains(t, wakeRun(t, c, runHistory, "configmap/hist", "--chunk-size", "1"), rv1, rv2, `{"data":{"mode":"two"}`)
	contains(t, wakeRun(t, c, runGetAt, "ns", "--at", rv2, "--chunk-size", "1"), "NAME", "default", "kube-system")
	var nsList struct {
		Metadata struct{ Continue string }
		Items    []struct{ Metadata struct{ Name string } }
	}
	out = wakeRun(t, c, runGetAt, "ns", "--at", rv2, "--chunk-size", "1", "-o", "json")
	if err := json.Unmarshal([]byte(out), &nsList); err != nil || len(nsList.Items) < 3 || nsList.Metadata.Continue != "" {
		t.Fatalf("get ns --at %s --chunk-size 1 -o json: %v %s", rv2, err, out)
	}

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

// `wake audit verify` against a real `wake up` process: it lists an
// operator's recorded removal and passes; the log refuses a purge; and
// when an attacker with NATS access makes retention drop the head (a
// limit set and lifted again), it fails, naming the range. The process
// uses an external NATS server the test also reaches, as an
// administrator of a real cluster's NATS would.
func TestAuditVerifyNamesATamperedEvent(t *testing.T) {
	srv, nc := natstest.Start(t)
	dir := t.TempDir()
	_, c := startProcess(t, dir, "--nats", srv.ClientURL())
	t.Setenv("WAKE_DATA", dir) // wake audit remove signs as its admin

	// wake.io/v1 is in kubectl's discovery, and the rest still is.
	contains(t, c.must(t, "api-resources"), "wake.io/v1", "history", "deployments", "apps/v1")
	c.must(t, "get", "events", "-A")

	c.must(t, "create", "configmap", "victim", "--from-literal=v=1")
	victim := c.must(t, "get", "cm", "victim", "-o", "jsonpath={.metadata.resourceVersion}")
	c.must(t, "patch", "cm", "victim", "--type=merge", "-p", `{"data":{"v":"2"}}`)
	c.must(t, "create", "configmap", "bystander")
	last := c.must(t, "get", "cm", "bystander", "-o", "jsonpath={.metadata.resourceVersion}")

	verify := func() (string, error) {
		cmd := exec.Command(wakePath, "audit", "verify", "--kubeconfig", c.kubeconfig)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// The sealer seals within its idle interval (2 s).
	lastSeq, _ := strconv.ParseUint(last, 10, 64)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, err := verify()
		var sealed uint64
		if _, after, ok := strings.Cut(out, "up to resourceVersion "); ok {
			fmt.Sscan(after, &sealed)
		}
		if err == nil && sealed >= lastSeq && strings.Contains(out, "ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log was not sealed up to %d in 30s: %v\n%s", lastSeq, err, out)
		}
	}

	// An operator records the removal of the event after the victim's
	// creation, as of a poison event: verify lists it and still passes.
	poison := mustSeq(t, victim) + 1
	var rmOut bytes.Buffer
	if err := runAuditRemove(t.Context(), []string{"--nats", srv.ClientURL(), fmt.Sprint(poison), "--reason", "drill", "--as", "ops"}, &rmOut); err != nil {
		t.Fatalf("wake audit remove: %v\n%s", err, rmOut.String())
	}
	out, err := verify()
	if err != nil {
		t.Fatalf("wake audit verify after a recorded removal: %v\n%s", err, out)
	}
	contains(t, out, fmt.Sprintf("event %d: removed by ops", poison), "signatures checked", "ok")

	// The log refuses a purge, even of one subject.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(t.Context(), events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	subject := events.Ref{Resource: "configmaps", Namespace: "default", Name: "victim"}.Subject()
	if err := stream.Purge(t.Context(), jetstream.WithPurgeSubject(subject)); err == nil {
		t.Fatal("the log allowed a purge")
	}
	// An attacker with JetStream API rights still can make retention drop
	// the head: a count limit set and lifted again at once.
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.MaxMsgs = int64(info.State.LastSeq - mustSeq(t, victim))
	if _, err := js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.MaxMsgs = -1
	if _, err := js.UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	info, err = stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	gone := info.State.FirstSeq - 1
	if gone < mustSeq(t, victim) {
		t.Fatalf("the limit dropped events up to %d only", gone)
	}

	out, err = verify()
	if err == nil {
		t.Fatalf("wake audit verify passed a tampered log:\n%s", out)
	}
	t.Logf("wake audit verify after the attack:\n%s", out)
	contains(t, out, fmt.Sprintf("events 1-%d: purged", gone), "does not match its seals", fmt.Sprintf("purged 1-%d", gone))
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "event") && !strings.HasPrefix(line, fmt.Sprintf("events 1-%d:", gone)) && !strings.Contains(line, "removed by ops") {
			t.Errorf("another finding: %s", line)
		}
	}
}

func mustSeq(t *testing.T, rv string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// `wake explain pod/<name>` tells a pod's story from its history: the
// ReplicaSet controller created it for its owner, the scheduler bound it
// with its recorded decision, the node reported it Running.
func TestExplainCLI(t *testing.T) {
	c := startWake(t, t.TempDir())
	startFakeKubelet(t, c.kubeconfig, "n1")
	c.must(t, "create", "deployment", "story", "--image=nginx", "--replicas=1")
	var pod string
	waitFor(t, func() bool {
		out, err := c.kubectl("", "get", "pods", "-l", "app=story", "-o", "jsonpath={.items[*].status.phase} {.items[*].metadata.name}")
		phase, name, _ := strings.Cut(out, " ")
		pod = name
		return err == nil && phase == "Running"
	})
	out := wakeRun(t, c, runExplain, "pod/"+pod)
	contains(t, out, "pods/default/"+pod,
		"created by system:controller:replicaset, on behalf of its controller ReplicaSet/story-",
		"scheduled by system:kube-scheduler: node n1, 1 of 1 nodes feasible; best scores n1",
		"phase Running")
	var none bytes.Buffer
	if err := runExplain(t.Context(), []string{"pod/never", "--kubeconfig", c.kubeconfig}, &none); err == nil {
		t.Fatal("explain of a pod that never existed succeeded")
	}
}

// `wake rollout history|undo`, and kubectl's own, reach revisions whose
// ReplicaSets the Deployment's revisionHistoryLimit removed: they are
// still in the log.
func TestRolloutFromTheLog(t *testing.T) {
	c := startWake(t, t.TempDir())
	startFakeKubelet(t, c.kubeconfig, "n1")
	c.mustIn(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: roll}
spec:
  replicas: 1
  revisionHistoryLimit: 1
  selector: {matchLabels: {app: roll}}
  template:
    metadata: {labels: {app: roll}}
    spec: {containers: [{name: app, image: "example/app:v1"}]}
`, "apply", "-f", "-")
	for _, v := range []string{"v2", "v3", "v4"} {
		c.must(t, "rollout", "status", "deploy/roll", "--timeout=30s")
		c.must(t, "set", "image", "deploy/roll", "app=example/app:"+v)
	}
	c.must(t, "rollout", "status", "deploy/roll", "--timeout=30s")
	liveRS := func() []string {
		out := c.must(t, "get", "rs", "-l", "app=roll", "-o",
			`jsonpath={range .items[*]}{.metadata.annotations.deployment\.kubernetes\.io/revision}={.spec.template.spec.containers[0].image}{" "}{end}`)
		return strings.Fields(out)
	}
	waitFor(t, func() bool { return len(liveRS()) == 2 }) // revisionHistoryLimit 1: the current and one old

	out := wakeRun(t, c, runRollout, "history", "deploy/roll")
	contains(t, out, "example/app:v1", "example/app:v2", "example/app:v3", "example/app:v4", "no (log)")

	// kubectl rollout history|undo list ReplicaSets; the gateway adds the
	// deleted ones from the log for them (and only for them).
	out = c.must(t, "rollout", "history", "deploy/roll")
	for _, rev := range []string{"\n1 ", "\n2 ", "\n3 ", "\n4 "} {
		contains(t, out, rev)
	}
	contains(t, c.must(t, "rollout", "history", "deploy/roll", "--revision=1"), "example/app:v1")
	if rs := liveRS(); len(rs) != 2 || slices.Contains(rs, "1=example/app:v1") {
		t.Fatalf("kubectl get rs lists deleted ReplicaSets: %v", rs)
	}
	c.must(t, "rollout", "undo", "deploy/roll", "--to-revision=1")
	if img := c.must(t, "get", "deploy/roll", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "example/app:v1" {
		t.Fatalf("image after kubectl rollout undo --to-revision=1: %q", img)
	}
	c.must(t, "rollout", "status", "deploy/roll", "--timeout=30s")
	// The controller made revision 1's ReplicaSet again, as revision 5.
	waitFor(t, func() bool { return slices.Contains(liveRS(), "5=example/app:v1") })
	contains(t, c.must(t, "rollout", "history", "deploy/roll"), "\n2 ", "\n3 ", "\n4 ", "\n5 ")

	contains(t, wakeRun(t, c, runRollout, "undo", "deploy/roll", "--to-revision", "2"), "rolled back to revision 2", "from the log")
	if img := c.must(t, "get", "deploy/roll", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "example/app:v2" {
		t.Fatalf("image after undo to revision 2: %q", img)
	}
	c.must(t, "rollout", "status", "deploy/roll", "--timeout=30s")
	var none bytes.Buffer
	if err := runRollout(t.Context(), []string{"undo", "deploy/roll", "--to-revision", "99", "--kubeconfig", c.kubeconfig}, &none); err == nil ||
		!strings.Contains(err.Error(), "no revision 99") {
		t.Fatalf("undo to a revision that never was: %v", err)
	}
}

// kubectl rollout history|undo of a DaemonSet reach the ControllerRevisions
// its revisionHistoryLimit pruned.
func TestKubectlRolloutOfDaemonSetFromTheLog(t *testing.T) {
	c := startWake(t, t.TempDir())
	startFakeKubelet(t, c.kubeconfig, "n1")
	c.mustIn(t, `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  revisionHistoryLimit: 1
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: app, image: "example/agent:v1"}]}
`, "apply", "-f", "-")
	revisions := func() string {
		return c.must(t, "get", "controllerrevisions", "-l", "app=agent", "-o", `jsonpath={range .items[*]}{.revision}{" "}{end}`)
	}
	for _, v := range []string{"v2", "v3"} {
		c.must(t, "rollout", "status", "ds/agent", "--timeout=30s")
		c.must(t, "set", "image", "ds/agent", "app=example/agent:"+v)
	}
	c.must(t, "rollout", "status", "ds/agent", "--timeout=30s")
	waitFor(t, func() bool { return !slices.Contains(strings.Fields(revisions()), "1") })

	out := c.must(t, "rollout", "history", "ds/agent")
	contains(t, out, "\n1 ", "\n3 ")
	contains(t, c.must(t, "rollout", "history", "ds/agent", "--revision=1"), "example/agent:v1")
	c.must(t, "rollout", "undo", "ds/agent", "--to-revision=1")
	if img := c.must(t, "get", "ds/agent", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); img != "example/agent:v1" {
		t.Fatalf("image after kubectl rollout undo --to-revision=1: %q", img)
	}
	c.must(t, "rollout", "status", "ds/agent", "--timeout=30s")
	waitFor(t, func() bool { return slices.Contains(strings.Fields(revisions()), "4") })
}
