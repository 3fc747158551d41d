package agent

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/exec"
	"github.com/wakehq/wake/agent/portforward"
)

// The node's half of `kubectl port-forward`, against real containers: the
// agent dials the port inside the pod's network namespace, so a server
// bound to the pod's 127.0.0.1 answers; a hostNetwork pod is dialled on
// the node; a port nobody listens on and a pod the node does not run are
// refused at once; and no thread is left in a pod's namespace.
func TestPortForwardIntoPod(t *testing.T) {
	h := newHarness(t)
	defer h.deleteAll(t)
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pf"}, Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr(int64(1)),
		Containers: []corev1.Container{
			{Name: "web", Args: []string{"serve", ":8080"}},
			{Name: "local", Args: []string{"serve", "127.0.0.1:9090"}}, // the pod's loopback only
		},
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hostPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pf-host"}, Spec: corev1.PodSpec{
		HostNetwork: true, TerminationGracePeriodSeconds: ptr(int64(1)),
		Containers: []corev1.Container{{Name: "web", Args: []string{"serve", "127.0.0.1:" + strconv.Itoa(hostPort)}}},
	}})
	pod := h.waitPod(t, "pf", "running", running)
	hostPod := h.waitPod(t, "pf-host", "running", running)
	nc := h.log.JetStream().Conn()
	req := func(p *corev1.Pod, port int) portforward.Request {
		return portforward.Request{Namespace: p.Namespace, Pod: p.Name, UID: string(p.UID), Port: port}
	}

	hostname, _ := os.Hostname()
	for _, tc := range []struct {
		req  portforward.Request
		want string
	}{
		{req(pod, 8080), "pf"},
		{req(pod, 9090), "pf"},
		{req(hostPod, hostPort), hostname},
	} {
		addr := localForward(t, nc, h.node, tc.req)
		// The containers may still be starting their servers. (get reads
		// the hostname the tool answers with.)
		var body string
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) && body != tc.want {
			body, err = get("http://" + addr + "/")
			time.Sleep(100 * time.Millisecond)
		}
		if body != tc.want {
			t.Errorf("port %d of %s: %q %v, want %q", tc.req.Port, tc.req.Pod, body, err, tc.want)
		}
	}

	c := portforward.Client{NC: nc}
	start := time.Now()
	_, err = c.Dial(t.Context(), h.node, req(pod, 9999))
	var e *portforward.Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "failed to dial 127.0.0.1:9999 in pod default/pf") || !strings.Contains(e.Message, "connection refused") {
		t.Errorf("a port nobody listens on: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refused after %s", d)
	}
	gone := req(pod, 8080)
	gone.UID = "no-such-uid"
	if _, err := c.Dial(t.Context(), h.node, gone); !errors.As(err, &e) || e.Reason != exec.ReasonNotFound {
		t.Errorf("a pod the node does not run: %v", err)
	}
	// A dialing thread ends with its goroutine, just after it answered.
	for deadline := time.Now().Add(5 * time.Second); !threadsAtHome() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	checkThreadsAtHome(t)
}

// threadsAtHome is checkThreadsAtHome without the failing.
func threadsAtHome() bool {
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, e := range tasks {
		for ns, l := range threadNamespaces("self/task/" + e.Name()) {
			if l != hostNS[ns] {
				return false
			}
		}
	}
	return true
}

// localForward forwards connections to a local listener to req's port,
// one session each, as the gateway does for kubectl's streams.
func localForward(t *testing.T, nc *nats.Conn, node string, req portforward.Request) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			local, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer local.Close()
				c := portforward.Client{NC: nc}
				conn, err := c.Dial(t.Context(), node, req)
				if err != nil {
					return
				}
				defer conn.Close()
				portforward.Pipe(t.Context(), conn, local.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().String()
}
