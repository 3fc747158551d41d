package main

import (
	"strings"
	"testing"
)

// `kubectl ... --dry-run=server` writes nothing: kubectl sends dryRun in the
// query for create and patch, and in the DeleteOptions body for delete,
// which the gateway once ignored, so `kubectl delete cm x --dry-run=server`
// deleted x (and drain and namespace deletion with it).
func TestKubectlServerDryRun(t *testing.T) {
	c := startWake(t, t.TempDir())
	const objects = `apiVersion: v1
kind: Namespace
metadata: {name: dry}
---
apiVersion: v1
kind: Node
metadata: {name: dry-node}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dry-x, namespace: default}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dry-y, namespace: default}
---
apiVersion: v1
kind: Pod
metadata: {name: dry-pod, namespace: default}
spec:
  nodeName: dry-node
  containers: [{name: c, image: busybox}]
`
	c.mustIn(t, objects, "apply", "-f", "-")
	before := c.must(t, "get", "ns,nodes,cm,pods", "-A", "-o", "jsonpath={range .items[*]}{.metadata.name}@{.metadata.resourceVersion}{\"\\n\"}{end}")

	steps := []struct {
		args []string
		want string
	}{
		{[]string{"delete", "cm", "dry-x", "--dry-run=server"}, `configmap "dry-x" deleted`},
		{[]string{"delete", "pod", "dry-pod", "--dry-run=server"}, `pod "dry-pod" deleted`},
		{[]string{"delete", "pod", "dry-pod", "--dry-run=server", "--grace-period=0", "--force"}, `pod "dry-pod" force deleted`},
		{[]string{"delete", "ns", "dry", "--dry-run=server"}, `namespace "dry" deleted`},
		{[]string{"delete", "cm", "--all", "--dry-run=server"}, `configmap "dry-y" deleted`},
		{[]string{"drain", "dry-node", "--dry-run=server", "--force", "--ignore-daemonsets"}, `node/dry-node drained`},
		{[]string{"create", "cm", "z", "--dry-run=server"}, `configmap/z created`},
		{[]string{"label", "cm", "dry-x", "a=b", "--dry-run=server"}, `configmap/dry-x labeled`},
	}
	for _, s := range steps {
		contains(t, c.must(t, s.args...), s.want, "(server dry run)")
	}
	after := c.must(t, "get", "ns,nodes,cm,pods", "-A", "-o", "jsonpath={range .items[*]}{.metadata.name}@{.metadata.resourceVersion}{\"\\n\"}{end}")
	if after != before {
		t.Fatalf("server dry runs changed objects:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, want := range []string{"dry-x@", "dry-y@", "dry@", "dry-node@", "dry-pod@"} {
		if !strings.Contains(after, want) {
			t.Fatalf("%s missing after dry runs:\n%s", strings.TrimSuffix(want, "@"), after)
		}
	}
	c.fails(t, "NotFound", "get", "cm", "z")
	contains(t, c.must(t, "get", "ns", "dry"), "Active")

	// The real delete still deletes.
	contains(t, c.must(t, "delete", "cm", "dry-x"), `configmap "dry-x" deleted`)
	c.fails(t, "NotFound", "get", "cm", "dry-x")
}

// kubectl pages lists (--chunk-size, 500 by default) and shows every item.
func TestKubectlChunkedList(t *testing.T) {
	c := startWake(t, t.TempDir())
	var b strings.Builder
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		b.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: page-" + n + ", namespace: default}\n")
	}
	c.mustIn(t, b.String(), "apply", "-f", "-")
	out := c.must(t, "get", "cm", "--chunk-size=2", "-o", "name")
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		contains(t, out, "configmap/page-"+n)
	}
	contains(t, c.must(t, "get", "cm", "--chunk-size=2"), "page-a", "page-e")
}
