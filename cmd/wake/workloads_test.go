package main

import (
	"strings"
	"testing"
)

// The seed Deployment gets three bound, running pods, and kubectl's
// rollout commands behave as on Kubernetes. A fake kubelet plays the node.
func TestDeploymentRollout(t *testing.T) {
	c := startWake(t, t.TempDir())
	startFakeKubelet(t, c.kubeconfig, "node-1")
	c.must(t, "apply", "-f", examples(t))
	nodesOf := func() string {
		return c.must(t, "get", "pods", "-l", "app=nginx", "--field-selector", "status.phase=Running", "-o", "jsonpath={.items[*].spec.nodeName}")
	}
	waitFor(t, func() bool { return strings.Count(nodesOf(), "node-1") == 3 })
	contains(t, c.must(t, "rollout", "status", "deploy/nginx-deployment", "--timeout=30s"), "successfully rolled out")
	contains(t, c.must(t, "get", "deploy", "nginx-deployment"), "3/3")

	c.must(t, "scale", "deploy/nginx-deployment", "--replicas=5")
	waitFor(t, func() bool { return strings.Count(nodesOf(), "node-1") == 5 })

	c.must(t, "set", "image", "deploy/nginx-deployment", "nginx=nginx:1.9.1")
	contains(t, c.must(t, "rollout", "status", "deploy/nginx-deployment", "--timeout=60s"), "successfully rolled out")
	images := func() string {
		return c.must(t, "get", "pods", "-l", "app=nginx", "--field-selector", "status.phase=Running", "-o", "jsonpath={.items[*].spec.containers[0].image}")
	}
	waitFor(t, func() bool {
		return strings.Count(images(), "nginx:1.9.1") == 5 && !strings.Contains(images(), "1.7.9")
	})
	contains(t, c.must(t, "rollout", "history", "deploy/nginx-deployment"), "REVISION", "1", "2")

	c.must(t, "rollout", "undo", "deploy/nginx-deployment")
	contains(t, c.must(t, "rollout", "status", "deploy/nginx-deployment", "--timeout=60s"), "successfully rolled out")
	waitFor(t, func() bool {
		return strings.Count(images(), "nginx:1.7.9") == 5 && !strings.Contains(images(), "1.9.1")
	})
	contains(t, c.must(t, "get", "rs"), "nginx-deployment-")

	// Deleting the Deployment takes its ReplicaSets and pods with it.
	c.must(t, "delete", "deploy", "nginx-deployment")
	waitFor(t, func() bool {
		return !strings.Contains(c.must(t, "get", "pods,rs", "-o", "name"), "nginx-deployment")
	})
}
