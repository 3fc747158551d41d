package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
)

// startProcess runs `wake up` as its own process and waits until it serves.
func startProcess(t *testing.T, dir string, extra ...string) (*exec.Cmd, *cluster) {
	t.Helper()
	args := append([]string{"up", "--data", dir, "--listen", "127.0.0.1:0", "--nats-listen", "", "--agent=false"}, extra...)
	cmd := exec.Command(wakePath, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if k, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export KUBECONFIG="); ok {
				ready <- k
			}
		}
	}()
	select {
	case k := <-ready:
		return cmd, &cluster{t: t, dir: dir, kubeconfig: k}
	case <-time.After(60 * time.Second):
		t.Fatal("wake up did not print its kubeconfig in 60s")
	}
	return nil, nil
}

// An acknowledged write survives kill -9: the embedded server fsyncs every
// event before it acknowledges it.
func TestAcknowledgedWriteSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	cmd, c := startProcess(t, dir)
	for _, name := range []string{"one", "two", "three"} {
		c.must(t, "create", "configmap", name, "--from-literal=k="+name)
	}
	rv := c.must(t, "get", "cm", "three", "-o", "jsonpath={.metadata.resourceVersion}")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	_, c = startProcess(t, dir)
	for _, name := range []string{"one", "two", "three"} {
		contains(t, c.must(t, "get", "cm", name, "-o", "jsonpath={.data.k}"), name)
	}
	if got := c.must(t, "get", "cm", "three", "-o", "jsonpath={.metadata.resourceVersion}"); got != rv {
		t.Fatalf("resourceVersion after kill -9: %s, want %s", got, rv)
	}
	// And it keeps working: the next write gets a later resourceVersion.
	c.must(t, "create", "configmap", "four")
}

// `wake up --nats URL` runs against an external NATS server.
func TestUpWithExternalNATS(t *testing.T) {
	srv, nc := natstest.Start(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- up(ctx, upConfig{dataDir: dir, listen: "127.0.0.1:0", natsURL: srv.ClientURL(), ready: func(k string) { ready <- k }})
	}()
	var c *cluster
	select {
	case k := <-ready:
		c = &cluster{t: t, dir: dir, kubeconfig: k}
	case err := <-done:
		t.Fatalf("wake up: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("not ready in 60s")
	}
	c.must(t, "create", "configmap", "external")
	if _, err := os.Stat(filepath.Join(dir, "nats")); err == nil {
		t.Fatal("an embedded NATS store was created although --nats was given")
	}
	log, err := events.Open(ctx, nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Last(ctx, events.Ref{Resource: "configmaps", Namespace: "default", Name: "external"}); err != nil {
		t.Fatalf("the external server's stream lacks the event: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
