package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// shutdownGrace is how long an operator's SIGTERM may take to stop a role.
const shutdownGrace = 10 * time.Second

// Seen on the machine after a load of 1,000 fake nodes: `wake up` ignored
// SIGTERM for minutes while node-ipam logged `reconcile failed; retrying …
// context canceled` for every node. Here `wake up` and a `wake
// controllers` and a `wake scheduler` beside it get SIGTERM while 1,000
// new nodes fill their queues: each exits cleanly within shutdownGrace,
// without a retry storm.
func TestRolesStopOnSIGTERMWithFullQueues(t *testing.T) {
	if testing.Short() {
		t.Skip("registers 1,000 nodes")
	}
	dir := t.TempDir()
	natsAddr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	start := func(args ...string) *child {
		cmd := exec.Command(wakePath, args...)
		c := &child{cmd: cmd, log: &childLog{}, done: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = c.log, c.log
		cmd.Env = append(os.Environ(), "WAKE_DATA="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { c.err = cmd.Wait(); close(c.done) }()
		t.Cleanup(func() {
			if c.exited() == nil {
				cmd.Process.Kill()
				<-c.done
			}
		})
		return c
	}
	up := start("up", "--data", dir, "--listen", "127.0.0.1:0", "--nats-listen", natsAddr, "--agent=false", "--dns-listen", "")
	kubeconfig, err := up.waitKubeconfig(t.Context(), 60*time.Second)
	if err != nil {
		t.Fatalf("%v\n%s", err, up.log.tail(20))
	}
	roles := map[string]*child{
		"wake up":          up,
		"wake controllers": start("controllers", "--id", "c2"),
		"wake scheduler":   start("scheduler", "--id", "s2"),
	}
	for name, c := range roles {
		if name != "wake up" {
			waitUntil(t, 30*time.Second, name+" leading", func() bool { return strings.Contains(c.log.String(), "leading") })
		}
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS = -1
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const nodes = 1000
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods: resource.MustParse("110")}
	began := time.Now()
	err = parallel(t.Context(), 32, nodes, func(i int) error {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("fake-%05d", i)},
			Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity}}
		_, err := client.CoreV1().Nodes().Create(t.Context(), node, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	list, err := client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	withCIDR := 0
	for _, n := range list.Items {
		if n.Spec.PodCIDR != "" {
			withCIDR++
		}
	}
	t.Logf("%d nodes registered in %s; %d of them had a pod CIDR at SIGTERM", nodes, time.Since(began).Round(time.Millisecond), withCIDR)

	marks := map[string]int{}
	for name, c := range roles {
		marks[name] = len(c.log.String())
		c.cmd.Process.Signal(syscall.SIGTERM)
	}
	sent := time.Now()
	took := make(chan string, len(roles))
	for name, c := range roles {
		go func() {
			<-c.done
			took <- fmt.Sprintf("%s exited %s after SIGTERM", name, time.Since(sent).Round(time.Millisecond))
		}()
	}
	for range roles {
		select {
		case line := <-took:
			t.Log(line)
		case <-time.After(time.Until(sent.Add(shutdownGrace))):
		}
	}
	for name, c := range roles {
		if c.exited() == nil {
			c.cmd.Process.Kill()
			<-c.done
			t.Errorf("%s still running %s after SIGTERM; its last lines:\n%s", name, shutdownGrace, c.log.tail(20))
		} else if c.err != nil {
			t.Errorf("%s ended with %v\n%s", name, c.err, c.log.tail(20))
		}
		after := c.log.String()[marks[name]:]
		if n := strings.Count(after, "reconcile failed; retrying"); n > 0 {
			t.Errorf("%s logged %d retries after SIGTERM", name, n)
		}
	}
}
