package agent

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	ti "github.com/wakehq/wake/internal/testimage"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/endpointslice"
	"github.com/wakehq/wake/services/reconcile"
)

// newServiceHarness is newHarness with the node's Service data path on:
// the proxy's nftables table, cluster DNS on the bridge address, routes,
// and the EndpointSlice controller running beside the agent. Its pod CIDR
// (10.252.0.0/24, cluster 10.252.0.0/16) is not the other harness's, so
// that both can run at once on one machine.
func newServiceHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessWith(t, func(c *Config) {
		c.PodCIDR, c.ClusterCIDR = "10.252.0.0/24", "10.252.0.0/16"
		c.ServiceProxy, c.ClusterDNS, c.NodeRoutes = true, true, true
	}, endpointslice.Loop)
}

// newHarnessWith is a harness whose agent's configuration mutate changes,
// with controllers (loops) running beside it. The agent's nftables table
// is its own (not the node's real agent's), removed at the end.
func newHarnessWith(t testing.TB, mutate func(*Config), loops ...func(*events.Log, *projections.Projection) *reconcile.Loop) *harness {
	t.Helper()
	ti.RequireRoot(t)
	table := fmt.Sprintf("wake-test-%d", os.Getpid())
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := events.Open(ctx, nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	view := projections.New(projections.Options{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); view.Run(ctx, log, nil) }()
	for _, mk := range loops {
		ctl := mk(log, view)
		ctl.Logger = testLogger()
		wg.Add(1)
		go func() { defer wg.Done(); ctl.Run(ctx) }()
	}
	host := ti.Registry(t)
	ref := ti.Push(t, host, "wake/tool:test", ti.Image(t))
	harnessN++
	h := &harness{log: log, view: view, image: ref, state: t.TempDir(), node: "svc-node-" + fmt.Sprint(harnessN)}
	h.cfg = Config{
		NodeName: h.node, StateDir: h.state, Log: log, View: view,
		InsecureRegistries: []string{host}, Bridge: fmt.Sprintf("wks%d", os.Getpid()%100000),
		HeartbeatPeriod: time.Second, ProxyTable: table, Logger: testLogger(),
	}
	mutate(&h.cfg)
	h.startAgent(t)
	t.Cleanup(func() {
		h.deleteAll(t)
		h.stop(t)
		cancel()
		wg.Wait()
		if l, err := netlink.LinkByName(h.agent.cfg.Bridge); err == nil {
			netlink.LinkDel(l)
		}
		// The rules outlive an agent on purpose (restarts keep traffic
		// flowing); a test removes its own.
		if c, err := nftables.New(); err == nil {
			c.DelTable(&nftables.Table{Name: table, Family: nftables.TableFamilyIPv4})
			c.Flush()
		}
	})
	h.waitNode(t)
	return h
}

var serviceKind = reconcile.MustKind("", "services")

// webPod is a replica of the test HTTP server; a broken one's readiness
// probe asks a port nothing listens on.
func webPod(name string, broken bool) *corev1.Pod {
	probePort := intstr.FromString("http")
	if broken {
		probePort = intstr.FromInt32(9999)
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr(int64(1)),
		Containers: []corev1.Container{{
			Name: "web", Args: []string{"serve", ":8080"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: probePort}}, PeriodSeconds: 1},
		}},
	}}
}

// TestServiceClusterIPDNSAndNodePort: three replicas behind Service web; a
// client pod fetches http://web.default.svc.cluster.local many times over
// cluster DNS and the ClusterIP, and every ready replica answers; a pod
// failing its readiness probe gets nothing; the NodePort answers from the
// host; a replica being deleted leaves the rules while its pod still runs.
func TestServiceClusterIPDNSAndNodePort(t *testing.T) {
	h := newServiceHarness(t)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.77.10", ClusterIPs: []string{"10.96.77.10"},
		Selector: map[string]string{"app": "web"},
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), NodePort: 30777, Protocol: corev1.ProtocolTCP}},
	}}
	h.appendAs(t, must(reconcile.Create(serviceKind, svc, time.Now(), "svc-web")))
	names := []string{"web-0", "web-1", "web-2"}
	for _, n := range names {
		h.createPod(t, webPod(n, false))
	}
	// The replica scaled down below keeps serving for 2 s after its
	// deletion (a preStop sleep, as Kubernetes users drain a pod).
	gonePod := webPod("web-gone", false)
	gonePod.Spec.TerminationGracePeriodSeconds = ptr(int64(5))
	gonePod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 2}}}
	h.createPod(t, gonePod)
	h.createPod(t, webPod("web-unready", true))
	for _, n := range names {
		h.waitPod(t, n, "Running and Ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	}
	h.waitPod(t, "web-unready", "Running", running)
	h.waitPod(t, "web-gone", "Running and Ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	h.wait(t, 20*time.Second, "4 ready endpoints in the slice", func() bool { return readyEndpoints(h) == 4 })

	// Scale down: web-gone is deleted; the slice drops it at once (a
	// terminating endpoint is not ready), and the node's rules follow
	// while its container still serves (preStop).
	nodePort := "http://" + h.agent.net.Gateway().String() + ":30777/"
	_, gone := h.pod("web-gone")
	h.appendAs(t, must(reconcile.Delete(podKind, gone, time.Now())))
	h.wait(t, 10*time.Second, "the deleted replica out of the slice", func() bool { return readyEndpoints(h) == 3 })
	time.Sleep(200 * time.Millisecond) // the proxy's debounce and transaction, with room to spare
	goneIP := podIPOf(h, "web-gone") != ""
	hits := map[string]int{}
	for range 40 {
		if body, err := get(nodePort); err == nil {
			hits[body]++
		}
	}
	if p, _ := h.pod("web-gone"); p == nil || p.DeletionTimestamp == nil || !goneIP {
		t.Fatalf("web-gone finished before the check (its preStop sleep should have held it for 2 s)")
	}
	if hits["web-gone"] > 0 || len(hits) == 0 {
		t.Errorf("after web-gone left the slice, while it still ran: answers %v", hits)
	}
	if body, err := get("http://" + podIPOf(h, "web-gone") + ":8080/"); err != nil || body != "web-gone" {
		t.Errorf("web-gone should still serve on its pod IP during its grace period: %q, %v", body, err)
	}

	// NodePort from the host, on the bridge address (a local address of
	// the node, as the InternalIP is).
	seen := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 3 && time.Now().Before(deadline) {
		if body, err := get(nodePort); err == nil {
			seen[body]++
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("NodePort from the host: answers %v, want all three replicas", seen)
	}
	t.Logf("NodePort from the host: %v", seen)

	const n = 60
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "client"}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers:    []corev1.Container{{Name: "c", Args: []string{"fetch", "http://web.default.svc.cluster.local/", fmt.Sprint(n)}}},
	}})
	p := h.waitPod(t, "client", "finished", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
	out := podLog(t, h, p, "c")
	resolv, _ := os.ReadFile(filepath.Join(h.state, "pods", string(p.UID), "resolv.conf"))
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("client %s:\n%s\nresolv.conf:\n%s", p.Status.Phase, out, resolv)
	}
	want := "search default.svc.cluster.local svc.cluster.local cluster.local"
	if !strings.Contains(string(resolv), want) || !strings.Contains(string(resolv), "nameserver "+h.agent.net.Gateway().String()) || !strings.Contains(string(resolv), "options ndots:5") {
		t.Errorf("resolv.conf:\n%s", resolv)
	}
	counts := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^fetch \d+ hello from (\S+)$`).FindAllStringSubmatch(out, -1) {
		counts[m[1]]++
	}
	t.Logf("%d requests through web.default.svc.cluster.local: %v", n, counts)
	for _, name := range names {
		if counts[name] == 0 {
			t.Errorf("replica %s never answered: %v", name, counts)
		}
	}
	if counts["web-unready"] != 0 {
		t.Errorf("the pod failing its readiness probe answered %d times", counts["web-unready"])
	}
	checkThreadsAtHome(t)
}

func podIPOf(h *harness, name string) string {
	if p, _ := h.pod(name); p != nil {
		return p.Status.PodIP
	}
	return ""
}

func get(url string) (string, error) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimPrefix(strings.TrimSpace(string(b)), "hello from "), err
}

func readyEndpoints(h *harness) int {
	objs, _ := h.view.List("discovery.k8s.io", "endpointslices", "default")
	n := 0
	for _, o := range objs {
		var s discoveryv1.EndpointSlice
		if reconcile.DecodeInto(o, &s) != nil || s.Labels[discoveryv1.LabelServiceName] != "web" {
			continue
		}
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				n++
			}
		}
	}
	return n
}

func podLog(t testing.TB, h *harness, p *corev1.Pod, ctr string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.state, "pods", string(p.UID), "logs", ctr, "1.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(logs.Content(b))
}
