package main

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKubectlTop is `kubectl top` end to end: the real kubectl, `wake up`
// with its agent sampling every second, and a pod with a container that
// keeps a CPU busy beside one that sleeps. kubectl reads metrics.k8s.io
// as it reads metrics-server's.
func TestKubectlTop(t *testing.T) {
	c, stop := upInNetns(t, "--metric-resolution", "1s")
	c.mustIn(t, topManifests, "apply", "-f", "-")
	c.must(t, "wait", "--for=condition=Ready", "pod/top", "--timeout=90s")

	// Two samples a second apart, then kubectl shows the pod; before, it
	// says "metrics not available yet" and fails.
	podLine := regexp.MustCompile(`(?m)^top\s+(\d+)m\s+(\d+)Mi\s*$`)
	var out string
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ = c.kubectl("", "top", "pod")
		if m := podLine.FindStringSubmatch(out); m != nil && m[2] != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl top pod did not list pod top with memory in 60s:\n%s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	contains(t, out, "NAME", "CPU(cores)", "MEMORY(bytes)")
	if cpu, _ := strconv.Atoi(podLine.FindStringSubmatch(out)[1]); cpu == 0 {
		t.Logf("kubectl top pod shows no CPU for a burning container (a loaded machine?):\n%s", out)
	}

	t.Logf("kubectl top pod:\n%s", out)
	out = c.must(t, "top", "pod", "--containers")
	t.Logf("kubectl top pod --containers:\n%s", out)
	for _, ctr := range []string{"burner", "idle"} {
		if !regexp.MustCompile(`(?m)^top\s+` + ctr + `\s+\d+m\s+\d+Mi\s*$`).MatchString(out) {
			t.Errorf("kubectl top pod --containers does not show container %s:\n%s", ctr, out)
		}
	}
	if !regexp.MustCompile(`(?m)^default\s+top\s+\d+m\s+\d+Mi\s*$`).MatchString(c.must(t, "top", "pod", "-A")) {
		t.Errorf("kubectl top pod -A does not list default/top")
	}
	contains(t, c.must(t, "top", "pod", "-l", "app=top", "--sum"), "top")
	if out, err := c.kubectl("", "top", "pod", "-l", "app=nothing"); err != nil || !strings.Contains(out, "No resources found in default namespace") {
		t.Errorf("kubectl top pod -l app=nothing: %v\n%s", err, out)
	}

	host, _ := os.Hostname()
	node := strings.ToLower(host)
	nodeLine := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(node) + `\s+\d+m\s+\d+%\s+\d+Mi\s+\d+%\s*$`)
	deadline = time.Now().Add(30 * time.Second)
	for out, _ = c.kubectl("", "top", "node"); !nodeLine.MatchString(out); out, _ = c.kubectl("", "top", "node") {
		if time.Now().After(deadline) {
			t.Fatalf("kubectl top node does not show node %s with CPU%% and MEMORY%%:\n%s", node, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	contains(t, out, "CPU(%)", "MEMORY(%)")
	t.Logf("kubectl top node:\n%s", out)
	contains(t, c.must(t, "top", "node", node), node)

	// The objects themselves, as kubectl get shows them.
	contains(t, c.must(t, "get", "podmetrics", "top", "-o", "json"), `"kind": "PodMetrics"`, `"name": "burner"`, `"window": "`, `"memory": "`)
	contains(t, c.must(t, "get", "nodemetrics"), node)

	c.fails(t, `pods.metrics.k8s.io "nonexistent" not found`, "top", "pod", "nonexistent")
	c.fails(t, `nodes.metrics.k8s.io "nonexistent" not found`, "top", "node", "nonexistent")

	c.mustIn(t, topManifests, "delete", "-f", "-", "--wait=true", "--timeout=60s")
	stop()
}

const topManifests = `apiVersion: v1
kind: Pod
metadata: {name: top, labels: {app: top}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: burner
    image: wake.test/tool:v1
    imagePullPolicy: Never
    args: [burn, "3600"]
  - name: idle
    image: wake.test/tool:v1
    imagePullPolicy: Never
    args: [sleep]
`
