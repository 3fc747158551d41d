package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wakehq/wake/internal/netnsexec"
	ti "github.com/wakehq/wake/internal/testimage"
)

// TestPortForwardThroughKubectl is `kubectl port-forward` end to end: the
// real kubectl, `wake up` and a pod with two HTTP servers, one on all
// addresses and one on the pod's 127.0.0.1 only (reachable because the
// node dials inside the pod's network namespace), by pod and by Service;
// and a port nobody listens on, which kubectl reports and gives up on.
func TestPortForwardThroughKubectl(t *testing.T) {
	c, stop := upInNetns(t)
	c.mustIn(t, portForwardManifests, "apply", "-f", "-")
	c.must(t, "wait", "--for=condition=Ready", "pod/pf", "--timeout=90s")

	for _, tc := range []struct {
		target, ports string
		env           []string
	}{
		{"pod/pf", "18080:8080", nil},
		{"pod/pf", "19090:9090", nil}, // the pod's loopback
		{"svc/pf", "18081:80", nil},   // kubectl picks a pod and its targetPort
		// kubectl's fallback when the WebSocket tunnel is refused (or,
		// here, not tried): plain SPDY.
		{"pod/pf", "18082:8080", []string{"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}},
	} {
		pf := c.portForward(t, tc.target, tc.ports, tc.env...)
		url := "http://127.0.0.1:" + strings.Split(tc.ports, ":")[0] + "/"
		var out string
		deadline := time.Now().Add(15 * time.Second) // the local server may still be starting
		for time.Now().Before(deadline) && !strings.Contains(out, "fetched 3/3") {
			out, _ = c.run(ti.Tool(t), "fetch", url, "3")
		}
		contains(t, out, "fetched 3/3", "fetch 0 hello from pf")
		pf.stop()
	}

	// Nobody listens on 9999: the first connection gets the node's error,
	// and kubectl ends at once with it.
	pf := c.portForward(t, "pod/pf", "19999:9999")
	out, err := c.run(ti.Tool(t), "fetch", "http://127.0.0.1:19999/", "1")
	if err == nil {
		t.Errorf("fetch through a port nobody listens on worked:\n%s", out)
	}
	select {
	case <-pf.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("kubectl port-forward still running 10s after its connection failed:\n%s", pf.out.String())
	}
	contains(t, pf.out.String(), "error forwarding port 9999 to pod", "failed to dial 127.0.0.1:9999", "connection refused")

	c.mustIn(t, portForwardManifests, "delete", "-f", "-", "--wait=true", "--timeout=60s")
	stop()
}

const portForwardManifests = `apiVersion: v1
kind: Pod
metadata: {name: pf, labels: {app: pf}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: wake.test/tool:v1
    imagePullPolicy: Never
    args: [serve, ":8080"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
  - name: local
    image: wake.test/tool:v1
    imagePullPolicy: Never
    args: [serve, "127.0.0.1:9090"]
---
apiVersion: v1
kind: Service
metadata: {name: pf}
spec:
  selector: {app: pf}
  ports: [{port: 80, targetPort: http}]
`

// portForwarding is a `kubectl port-forward` running in the background.
type portForwarding struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when kubectl has exited
}

// portForward starts `kubectl port-forward target ports` in the cluster's
// network namespace, with env added to its environment, and returns once
// kubectl says it forwards.
func (c *cluster) portForward(t *testing.T, target, ports string, env ...string) *portForwarding {
	t.Helper()
	pf := &portForwarding{cmd: exec.Command(kubectlPath, "port-forward", target, ports), out: &syncBuffer{}, done: make(chan struct{})}
	pf.cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "KUBECACHEDIR="+filepath.Join(c.dir, "kubecache"))
	pf.cmd.Env = append(pf.cmd.Env, env...)
	pf.cmd.Stdout, pf.cmd.Stderr = pf.out, pf.out
	if err := netnsexec.StartIn(c.netns, pf.cmd.Start); err != nil {
		t.Fatal(err)
	}
	go func() { pf.cmd.Wait(); close(pf.done) }()
	t.Cleanup(pf.stop)
	local, _, _ := strings.Cut(ports, ":")
	want := "Forwarding from 127.0.0.1:" + local + " -> "
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(pf.out.String(), want) {
		select {
		case <-pf.done:
			t.Fatalf("kubectl port-forward %s %s exited:\n%s", target, ports, pf.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl port-forward %s %s not forwarding in 20s:\n%s", target, ports, pf.out.String())
		}
	}
	return pf
}

// stop interrupts kubectl, as ^C does, and waits for it.
func (pf *portForwarding) stop() {
	select {
	case <-pf.done:
		return
	default:
	}
	pf.cmd.Process.Signal(os.Interrupt)
	select {
	case <-pf.done:
	case <-time.After(10 * time.Second):
		pf.cmd.Process.Kill()
		<-pf.done
	}
}
