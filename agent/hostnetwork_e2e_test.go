package agent

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/agent/network"
)

// A hostNetwork pod runs on the node's network and hostname: no veth, no
// address of its own (podIP is the node's), reachable on the node's
// loopback; deleting it leaves nothing behind.
func TestHostNetworkPod(t *testing.T) {
	h := newHarness(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hostnet"}, Spec: corev1.PodSpec{
		HostNetwork: true,
		Containers: []corev1.Container{{
			Name: "web", Args: []string{"serve", "127.0.0.1:" + strconv.Itoa(port)},
			ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{
				TCPSocket: &corev1.TCPSocketAction{Host: "127.0.0.1", Port: intstr.FromInt(port)}}},
		}},
	}})
	p := h.waitPod(t, "hostnet", "Running and Ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	if p.Status.PodIP == "" || p.Status.PodIP != p.Status.HostIP {
		t.Errorf("podIP %q, hostIP %q: a hostNetwork pod has the node's address", p.Status.PodIP, p.Status.HostIP)
	}
	uid := string(p.UID)
	if _, err := netlink.LinkByName(network.HostVeth(uid)); err == nil {
		t.Errorf("a hostNetwork pod got a veth")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	if err != nil {
		t.Fatalf("the pod on the node's loopback: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	host, _ := os.Hostname()
	if got := strings.TrimSpace(string(body)); got != "hello from "+host {
		t.Errorf("pod answered %q, want the node's hostname %q", got, host)
	}

	h.deletePod(t, "hostnet")
	h.wait(t, 10*time.Second, "teardown", func() bool {
		_, err := os.Stat(filepath.Join(h.state, "pods", uid))
		return os.IsNotExist(err)
	})
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), uid) {
		t.Errorf("mounts of the pod left behind:\n%s", grepLines(string(mounts), uid))
	}
	checkThreadsAtHome(t)
}

// hostIPC and hostPID put the pod's containers in the node's IPC and PID
// namespaces; without them each pod has its own.
func TestHostIPCAndPID(t *testing.T) {
	h := newHarness(t)
	for name, shared := range map[string]bool{"host-ns": true, "own-ns": false} {
		h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			HostIPC: shared, HostPID: shared, RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Args: []string{"inspect"}}},
		}})
	}
	node := map[string]string{}
	for _, ns := range []string{"ipc", "pid", "net"} {
		node[ns], _ = os.Readlink("/proc/self/ns/" + ns)
	}
	for name, shared := range map[string]bool{"host-ns": true, "own-ns": false} {
		p := h.waitPod(t, name, "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
		b, err := os.ReadFile(filepath.Join(h.state, "pods", string(p.UID), "logs", "c", "1.log"))
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Namespaces map[string]string }
		if err := json.Unmarshal(logs.Content(b), &out); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, logs.Content(b))
		}
		for _, ns := range []string{"ipc", "pid"} {
			if same := out.Namespaces[ns] == node[ns]; same != shared {
				t.Errorf("%s: %s namespace %s, node's %s (shared: %v, want %v)", name, ns, out.Namespaces[ns], node[ns], same, shared)
			}
		}
		if out.Namespaces["net"] == node["net"] {
			t.Errorf("%s: on the node's network without hostNetwork", name)
		}
	}
}
