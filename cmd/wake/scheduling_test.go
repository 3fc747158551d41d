package main

import (
	"strings"
	"testing"
)

// A pod that fits nowhere says why, as Kubernetes says it.
func TestUnschedulableReason(t *testing.T) {
	c := startWake(t, t.TempDir())
	startFakeKubelet(t, c.kubeconfig, "node-1")
	manifest := `apiVersion: v1
kind: Pod
metadata:
  name: greedy
spec:
  containers:
  - name: c
    image: busybox
    resources:
      requests:
        cpu: "64"
`
	c.mustIn(t, manifest, "apply", "-f", "-")
	waitFor(t, func() bool {
		return strings.Contains(c.must(t, "describe", "pod", "greedy"), "0/1 nodes are available: 1 Insufficient cpu")
	})
}
