package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wakehq/wake/internal/netnsexec"
)

// kubectlPath is the real kubectl, built from k8s.io/kubectl by TestMain;
// wakePath is this command, built for tests that need it as a process.
var kubectlPath, wakePath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wake-kubectl")
	if err != nil {
		panic(err)
	}
	kubectlPath, wakePath = filepath.Join(dir, "kubectl"), filepath.Join(dir, "wake")
	for _, b := range [][]string{
		{"-ldflags", kubectlLDFlags, "-o", kubectlPath, "github.com/wakehq/wake/cmd/kubectl"},
		{"-o", wakePath, "github.com/wakehq/wake/cmd/wake"},
	} {
		build := exec.Command("go", append([]string{"build"}, b...)...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", b[len(b)-1], err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// kubectlLDFlags stamp kubectl with its version, as its release build does.
const kubectlLDFlags = "-X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37" +
	" -X k8s.io/client-go/pkg/version.gitVersion=v1.37.2 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"

// cluster is one `wake up` running inside the test process.
type cluster struct {
	t          *testing.T
	dir        string
	kubeconfig string
	netns      string // where kubectl runs ("" = this network namespace)
	cancel     context.CancelFunc
	done       chan error
}

func startWake(t *testing.T, dir string) *cluster {
	t.Helper()
	return startWakeWith(t, upConfig{dataDir: dir, listen: "127.0.0.1:0"})
}

// startWakeWith is startWake with more of wake up's configuration.
func startWakeWith(t *testing.T, cfg upConfig) *cluster {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	c := &cluster{t: t, dir: cfg.dataDir, cancel: cancel, done: make(chan error, 1)}
	cfg.ready = func(k string) { ready <- k }
	go func() {
		c.done <- up(ctx, cfg)
	}()
	select {
	case c.kubeconfig = <-ready:
	case err := <-c.done:
		t.Fatalf("wake up: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("wake up did not become ready in 60s")
	}
	t.Cleanup(c.stop)
	return c
}

func (c *cluster) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.cancel = nil
	if err := <-c.done; err != nil {
		c.t.Errorf("wake up ended with: %v", err)
	}
}

func (c *cluster) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(kubectlPath, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "KUBECACHEDIR="+filepath.Join(c.dir, "kubecache"))
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := netnsexec.StartIn(c.netns, cmd.Start); err != nil {
		return "", err
	}
	err := cmd.Wait()
	return out.String(), err
}

func (c *cluster) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.kubectl("", args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cluster) mustIn(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := c.kubectl(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cluster) fails(t *testing.T, want string, args ...string) {
	t.Helper()
	out, err := c.kubectl("", args...)
	if err == nil {
		t.Fatalf("kubectl %s succeeded, want an error containing %q:\n%s", strings.Join(args, " "), want, out)
	}
	if !strings.Contains(out, want) {
		t.Fatalf("kubectl %s: want %q in:\n%s", strings.Join(args, " "), want, out)
	}
}

func contains(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("want %q in:\n%s", w, out)
		}
	}
}

func examples(t *testing.T) string {
	dir, err := filepath.Abs("../../../shared/examples")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the shared examples must sit beside the repository: %v", err)
	}
	return dir
}

func TestKubectl(t *testing.T) {
	c := startWake(t, t.TempDir())

	t.Run("discovery", func(t *testing.T) {
		contains(t, c.must(t, "version"), "Server Version: v1.37.2")
		contains(t, c.must(t, "api-resources"), "deployments", "deploy", "apps/v1", "Deployment", "statefulsets", "cronjobs", "batch/v1")
		contains(t, c.must(t, "get", "ns"), "default", "kube-system", "Active")
	})

	t.Run("namespaces", func(t *testing.T) {
		contains(t, c.must(t, "create", "namespace", "x"), "namespace/x created")
		contains(t, c.must(t, "get", "ns", "x"), "x", "Active")
		c.fails(t, "AlreadyExists", "create", "namespace", "x")
	})

	t.Run("apply examples", func(t *testing.T) {
		dir := examples(t)
		out := c.must(t, "apply", "-f", dir)
		contains(t, out, "deployment.apps/nginx-deployment created", "service/example-service created")
		out = c.must(t, "apply", "-f", dir)
		contains(t, out, "deployment.apps/nginx-deployment unchanged", "service/example-service unchanged")
		out = c.must(t, "get", "deploy", "nginx-deployment")
		contains(t, out, "READY", "UP-TO-DATE", "AVAILABLE", "nginx-deployment")
		out = c.must(t, "get", "svc", "example-service", "-o", "wide")
		contains(t, out, "LoadBalancer", "8765", "SELECTOR", "app=example")
	})

	t.Run("apply every kind", func(t *testing.T) {
		out := c.must(t, "apply", "-f", "testdata/kinds.yaml")
		for _, want := range []string{"configmap/kube-root-ca.crt created", "secret/db-password created", "pod/solo created",
			"service/web created", "replicaset.apps/rs-web created", "daemonset.apps/node-logger created",
			"statefulset.apps/db created", "job.batch/once created", "cronjob.batch/nightly created", "node/node-a created"} {
			contains(t, out, want)
		}
		contains(t, c.must(t, "apply", "-f", "testdata/kinds.yaml"), "pod/solo unchanged", "cronjob.batch/nightly unchanged")
		contains(t, c.must(t, "get", "pods"), "NAME", "READY", "STATUS", "RESTARTS", "AGE", "solo", "0/1", "Pending")
		contains(t, c.must(t, "get", "cj"), "SCHEDULE", "0 3 * * *")
		contains(t, c.must(t, "get", "nodes"), "node-a")
		contains(t, c.must(t, "get", "cm", "kube-root-ca.crt", "-o", "jsonpath={.data.ca\\.crt}"), "not really a certificate")
	})

	t.Run("re-apply patches", func(t *testing.T) {
		manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {tier: a}\ndata:\n  mode: one\n"
		contains(t, c.mustIn(t, manifest, "apply", "-f", "-"), "configmap/settings created")
		changed := strings.Replace(manifest, "mode: one", "mode: two", 1)
		contains(t, c.mustIn(t, changed, "apply", "-f", "-"), "configmap/settings configured")
		contains(t, c.must(t, "get", "cm", "settings", "-o", "jsonpath={.data.mode}"), "two")
	})

	t.Run("selectors and output", func(t *testing.T) {
		out := c.must(t, "get", "pods", "-l", "app=solo", "-o", "json")
		var list struct {
			Items []struct {
				Metadata struct{ Name, ResourceVersion string }
			}
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(list.Items) != 1 || list.Items[0].Metadata.Name != "solo" || list.Items[0].Metadata.ResourceVersion == "" {
			t.Fatalf("pods -l app=solo: %+v", list.Items)
		}
		if out := c.must(t, "get", "pods", "-l", "app=nothing"); !strings.Contains(out, "No resources found") {
			t.Fatalf("empty selection: %s", out)
		}
		contains(t, c.must(t, "get", "pods", "-A"), "NAMESPACE", "default", "solo")
		contains(t, c.must(t, "get", "pod", "solo", "-o", "yaml"), "restartPolicy: Always", "terminationGracePeriodSeconds: 30", "uid:")
		contains(t, c.must(t, "get", "pods", "--field-selector", "metadata.name=solo"), "solo")
	})

	t.Run("patch", func(t *testing.T) {
		c.must(t, "patch", "cm", "settings", "--type=merge", "-p", `{"data":{"merged":"yes"}}`)
		c.must(t, "patch", "cm", "settings", "--type=json", "-p", `[{"op":"add","path":"/data/jsonpatched","value":"yes"}]`)
		c.must(t, "patch", "deploy", "nginx-deployment", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.9.1"}]}}}}`)
		out := c.must(t, "get", "cm", "settings", "-o", "jsonpath={.data}")
		contains(t, out, "merged", "jsonpatched")
		out = c.must(t, "get", "deploy", "nginx-deployment", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.generation}")
		contains(t, out, "nginx:1.9.1 2")
	})

	t.Run("edit", func(t *testing.T) {
		editor := filepath.Join(t.TempDir(), "editor.sh")
		os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/mode: two/mode: edited/' \"$1\"\n"), 0o755)
		cmd := exec.Command(kubectlPath, "edit", "cm", "settings")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "KUBE_EDITOR="+editor)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kubectl edit: %v\n%s", err, out)
		}
		contains(t, c.must(t, "get", "cm", "settings", "-o", "jsonpath={.data.mode}"), "edited")
	})

	t.Run("scale", func(t *testing.T) {
		contains(t, c.must(t, "scale", "deploy", "nginx-deployment", "--replicas=5"), "scaled")
		contains(t, c.must(t, "get", "deploy", "nginx-deployment", "-o", "jsonpath={.spec.replicas}"), "5")
		contains(t, c.must(t, "scale", "statefulset", "db", "--replicas=1"), "scaled")
	})

	t.Run("watch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectlPath, "get", "configmaps", "-w")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig)
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); cmd.Wait() }()
		waitFor(t, func() bool { return strings.Contains(out.String(), "settings") })
		c.must(t, "create", "configmap", "watched", "--from-literal=a=b")
		waitFor(t, func() bool { return strings.Contains(out.String(), "watched") })
	})

	t.Run("delete", func(t *testing.T) {
		c.must(t, "label", "cm", "settings", "sweep=yes")
		contains(t, c.must(t, "delete", "cm", "-l", "sweep=yes"), `configmap "settings" deleted`)
		c.fails(t, "NotFound", "get", "cm", "settings")
		contains(t, c.must(t, "delete", "jobs", "--all"), `job.batch "once" deleted`)
		contains(t, c.must(t, "create", "configmap", "inside", "-n", "x", "--from-literal=k=v"), "created")
		contains(t, c.must(t, "delete", "namespace", "x", "--timeout=30s"), `namespace "x" deleted`)
		c.fails(t, "NotFound", "get", "ns", "x")
		contains(t, c.must(t, "create", "namespace", "x"), "created")
		if out := c.must(t, "get", "cm", "-n", "x", "-o", "name"); strings.Contains(out, "inside") {
			t.Fatalf("the old namespace's content survived: %s", out)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		c.fails(t, "Invalid", "create", "configmap", "Bad_Name")
		c.fails(t, "a lowercase RFC 1123", "create", "namespace", "UPPER")
		c.fails(t, `unknown field "spec.bogus"`, "apply", "-f", "testdata/unknown-field.yaml")
	})
}

func TestRestartKeepsObjects(t *testing.T) {
	dir := t.TempDir()
	c := startWake(t, dir)
	c.must(t, "create", "configmap", "kept", "--from-literal=k=v")
	rv := c.must(t, "get", "cm", "kept", "-o", "jsonpath={.metadata.resourceVersion}")
	c.stop()

	c = startWake(t, dir)
	out := c.must(t, "get", "cm", "kept", "-o", "jsonpath={.metadata.resourceVersion} {.data.k}")
	if out != rv+" v" {
		t.Fatalf("after restart: %q, want %q", out, rv+" v")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
