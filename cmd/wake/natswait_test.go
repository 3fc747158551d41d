package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/wakehq/wake/events/natstest"
)

// A role started before any NATS server waits for one instead of exiting
// (roles come up in any order on a cluster's machines).
func TestRoleWaitsForNATS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(wakePath, "controllers", "--nats", fmt.Sprintf("nats://127.0.0.1:%d", port), "--id", "early")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("wake controllers exited without a NATS server: %v", err)
	case <-time.After(1500 * time.Millisecond):
	}
	opts := natstest.Options(t)
	opts.Port = port
	natstest.StartWith(t, opts)
	following := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "following the log") {
				following <- true
			}
		}
	}()
	select {
	case <-following:
	case err := <-exited:
		t.Fatalf("wake controllers exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("wake controllers did not start following the log within 20s of the server starting")
	}
}
