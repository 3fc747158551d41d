package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/wakehq/wake/internal/netnsexec"
	ti "github.com/wakehq/wake/internal/testimage"
)

// TestPodsThroughKubectl is the user's path end to end: `wake up` with its
// agent (in a network namespace of its own, so nothing touches the host's
// network), `wake image import` of a tarball, then the real kubectl: a
// Deployment of three HTTP servers behind a Service, a client pod that
// reaches them by name through cluster DNS and the ClusterIP, logs, exec,
// and deletion that leaves no container behind.
func TestPodsThroughKubectl(t *testing.T) {
	c, stop := upInNetns(t)
	dir := c.dir

	c.mustIn(t, manifests, "apply", "-f", "-")
	c.must(t, "wait", "--for=condition=Ready", "pod", "-l", "app=web", "--timeout=90s")
	c.must(t, "wait", "--for=condition=Ready", "pod/client", "--timeout=90s")
	pods := strings.Fields(c.must(t, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"))
	if len(pods) != 3 {
		t.Fatalf("web pods: %v", pods)
	}

	// Cluster DNS and the Service: every replica answers by name.
	resolv := c.must(t, "exec", "client", "--", "/bin/tool", "cat", "/etc/resolv.conf")
	contains(t, resolv, "search default.svc.cluster.local svc.cluster.local cluster.local", "options ndots:5", "nameserver 10.244.0.1")
	fetched := c.must(t, "exec", "client", "--", "/bin/tool", "fetch", "http://web/", "30")
	contains(t, fetched, "fetched 30/30")
	for _, p := range pods {
		contains(t, fetched, "hello from "+p)
	}
	fqdn := c.must(t, "exec", "client", "--", "/bin/tool", "fetch", "http://web.default.svc.cluster.local/", "3")
	contains(t, fqdn, "fetched 3/3")

	// Logs and exec through the gateway.
	contains(t, c.must(t, "logs", pods[0]), "serving on :8080")
	contains(t, c.must(t, "exec", pods[0], "--", "/bin/tool", "cat", "/etc/hosts"), pods[0])

	// Deleting everything leaves no container, cgroup or pod directory.
	c.mustIn(t, manifests, "delete", "-f", "-", "--wait=true", "--timeout=60s")
	waitFor(t, func() bool {
		out, err := c.kubectl("", "get", "pods", "-o", "name")
		return err == nil && strings.TrimSpace(out) == ""
	})
	podDirs, _ := filepath.Glob(filepath.Join(dir, "data", "agent", "pods", "*"))
	if len(podDirs) != 0 {
		t.Errorf("pod directories left after deletion: %v", podDirs)
	}
	stop()
}

// upInNetns runs `wake up` with its agent in a network namespace of its
// own (nothing touches the host's network) and imports the test image
// (wake.test/tool:v1) onto its node as a tarball, as on a machine without
// a registry; upArgs are more flags for wake up. stop ends wake; without
// it, cleanup deletes the cluster's pods first, then ends wake. A failed
// test logs the end of wake's log.
func upInNetns(t *testing.T, upArgs ...string) (c *cluster, stop func()) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: real containers, a network namespace, nftables")
	}
	dir := t.TempDir()
	ns := newNetns(t)

	// `wake up` inside the namespace; it prints the kubeconfig when ready.
	up := exec.Command(wakePath, append([]string{"up", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0",
		"--nats-listen", "127.0.0.1:4222", "--dns-listen", ""}, upArgs...)...)
	out, err := up.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "up.log"))
	if err != nil {
		t.Fatal(err)
	}
	up.Stderr = logFile
	if err := netnsexec.StartIn(ns, up.Start); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			// A deleted pod's object goes before its agent has removed the
			// last container state: let it finish (containers outlive
			// wake up by design, so stopping now would leave them).
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				left, _ := filepath.Glob(filepath.Join(dir, "data", "agent", "runtime", "containers", "*"))
				if len(left) == 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			up.Process.Signal(os.Interrupt)
			up.Wait()
		}
	}
	t.Cleanup(stop)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if k, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export KUBECONFIG="); ok {
				ready <- k
			}
		}
	}()
	c = &cluster{t: t, dir: dir, netns: ns}
	select {
	case c.kubeconfig = <-ready:
	case <-time.After(90 * time.Second):
		t.Fatal("wake up did not print its kubeconfig in 90s; see " + logFile.Name())
	}
	// A failed test still removes its containers before wake stops.
	t.Cleanup(func() {
		if !stopped {
			c.kubectl("", "delete", "deploy,pod", "--all", "--wait=true", "--timeout=60s")
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("wake up's log (last 4 KiB):\n%s", tail(b, 4096))
		}
	})

	// The image arrives as a tarball, as on a machine without a registry.
	tag, err := name.NewTag("wake.test/tool:v1")
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "tool.tar")
	if err := tarball.WriteToFile(tarPath, tag, ti.Image(t)); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	node := strings.ToLower(host)
	waitFor(t, func() bool {
		_, err := c.kubectl("", "get", "node", node)
		return err == nil
	})
	imp, err := c.run(wakePath, "image", "import", "--nats", "nats://127.0.0.1:4222", "--node", node, tarPath)
	if err != nil {
		t.Fatalf("wake image import: %v\n%s", err, imp)
	}
	ls, err := c.run(wakePath, "image", "ls", "--nats", "nats://127.0.0.1:4222", "--node", node)
	if err != nil || !regexp.MustCompile(`wake.test/tool\s+v1`).MatchString(ls) {
		t.Fatalf("wake image ls: %v\n%s", err, ls)
	}
	return c, stop
}

const manifests = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: web
        image: wake.test/tool:v1
        imagePullPolicy: Never
        ports: [{name: http, containerPort: 8080}]
        readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: wake.test/tool:v1
    imagePullPolicy: Never
    args: [sleep, "3600"]
`

// run runs a command in the cluster's network namespace.
func (c *cluster) run(path string, args ...string) (string, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "KUBECACHEDIR="+filepath.Join(c.dir, "kubecache"),
		"WAKE_DATA="+filepath.Join(c.dir, "data"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := netnsexec.StartIn(c.netns, cmd.Start); err != nil {
		return "", err
	}
	err := cmd.Wait()
	return out.String(), err
}

var nsCount int

// newNetns makes a network namespace with loopback up, removed at the end.
func newNetns(t *testing.T) string {
	t.Helper()
	nsCount++
	n := fmt.Sprintf("wake-e2e-%d-%d", os.Getpid(), nsCount)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(n) // switches this thread into it
	if err != nil {
		t.Fatal(err)
	}
	defer netns.Set(orig)
	defer h.Close()
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.DeleteNamed(n) })
	return n
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return ansi.ReplaceAllString(string(b), "")
}
