package gateway_test

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/restmapper"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/wakehq/wake/agent/metrics"
	"github.com/wakehq/wake/gateway"
)

// metricsEnv is a gateway with fake agents answering metrics requests:
// n1 answers, n2 subscribes and never answers, n3 is not Ready (and must
// not be asked).
type metricsEnv struct {
	*env
	client *metricsclient.Clientset
	pods   atomic.Pointer[[]metrics.PodUsage] // n1's answer
	mu     sync.Mutex
	asked  map[string][]metrics.Request
}

var usageAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func startMetrics(t *testing.T) *metricsEnv {
	e := &metricsEnv{env: startWith(t, func(c *gateway.Config) { c.MetricsTimeout = 300 * time.Millisecond }), asked: map[string][]metrics.Request{}}
	var err error
	if e.client, err = metricsclient.NewForConfig(e.config); err != nil {
		t.Fatal(err)
	}
	e.pods.Store(&[]metrics.PodUsage{})
	nc := e.log.JetStream().Conn()
	for _, node := range []string{"n1", "n2", "n3"} {
		sub, err := nc.Subscribe(metrics.Subject(node), func(m *nats.Msg) {
			var req metrics.Request
			if json.Unmarshal(m.Data, &req) != nil || req.Check() != nil {
				t.Errorf("%s got a bad request %s", node, m.Data)
			}
			e.mu.Lock()
			e.asked[node] = append(e.asked[node], req)
			e.mu.Unlock()
			if node != "n1" {
				return // n2 hangs; n3 should never be asked
			}
			r := metrics.Reply{Pods: *e.pods.Load()}
			if req.Node {
				r.Node = &metrics.Usage{Timestamp: usageAt, Window: 15 * time.Second, CPU: 1_500_000_000, Memory: 2 << 30}
			}
			b, _ := json.Marshal(r)
			m.Respond(b)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Unsubscribe() })
		n, err := e.env.client.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node, Labels: map[string]string{"tier": node}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ready := corev1.ConditionTrue
		if node == "n3" {
			ready = corev1.ConditionFalse
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
		if _, err := e.env.client.CoreV1().Nodes().UpdateStatus(t.Context(), n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *metricsEnv) pod(t *testing.T, ns, name, node, app string, containers ...string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}}, Spec: corev1.PodSpec{NodeName: node}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "x"})
	}
	if _, err := e.env.client.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		e.env.client.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	}
	p, err := e.env.client.CoreV1().Pods(ns).Create(t.Context(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *metricsEnv) wasAsked(node string) []metrics.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.asked[node]
}

func usage(cpu uint64, mem int64) metrics.Usage {
	return metrics.Usage{Timestamp: usageAt, Window: 15 * time.Second, CPU: cpu, Memory: mem}
}

// metrics.k8s.io/v1beta1 is in discovery as metrics-server has it, and
// kubectl's plain resource names still mean the core kinds.
func TestMetricsDiscovery(t *testing.T) {
	e := start(t)
	disc, err := discovery.NewDiscoveryClientForConfig(e.config)
	if err != nil {
		t.Fatal(err)
	}
	groups, lists, err := disc.ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("discovery is incomplete: %v", err)
	}
	found := false
	for _, g := range groups {
		found = found || (g.Name == "metrics.k8s.io" && g.PreferredVersion.GroupVersion == "metrics.k8s.io/v1beta1")
	}
	if !found {
		t.Errorf("groups do not list metrics.k8s.io/v1beta1")
	}
	want := map[string]string{"nodes": "NodeMetrics false", "pods": "PodMetrics true"}
	for _, l := range lists {
		if l.GroupVersion != "metrics.k8s.io/v1beta1" {
			continue
		}
		for _, r := range l.APIResources {
			got := r.Kind + " " + map[bool]string{true: "true", false: "false"}[r.Namespaced]
			if want[r.Name] != got || strings.Join(r.Verbs, ",") != "get,list" {
				t.Errorf("metrics.k8s.io/v1beta1 %s: %s %v", r.Name, got, r.Verbs)
			}
			delete(want, r.Name)
		}
	}
	if len(want) != 0 {
		t.Errorf("metrics.k8s.io/v1beta1 does not list %v", want)
	}
	gr, err := restmapper.GetAPIGroupResources(disc)
	if err != nil {
		t.Fatal(err)
	}
	m := restmapper.NewDiscoveryRESTMapper(gr)
	for res, want := range map[string]schema.GroupVersionKind{
		"pods":  {Version: "v1", Kind: "Pod"},
		"nodes": {Version: "v1", Kind: "Node"},
	} {
		if got, err := m.KindFor(schema.GroupVersionResource{Resource: res}); err != nil || got != want {
			t.Errorf("%s maps to %v (%v), want %v", res, got, err, want)
		}
	}
	var g metav1.APIGroup
	if code := e.wakeGet(t, "/apis/metrics.k8s.io", &g); code != 200 || g.Name != "metrics.k8s.io" || g.PreferredVersion.Version != "v1beta1" {
		t.Errorf("GET /apis/metrics.k8s.io: %d %+v", code, g)
	}
}

func TestMetricsNodes(t *testing.T) {
	e := startMetrics(t)
	nm := e.client.MetricsV1beta1().NodeMetricses()

	start := time.Now()
	list, err := nm.List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// n2 never answers: left out after the 300ms metrics timeout, not the
	// request's 60s.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the list took %s with a silent node", d)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "n1" {
		t.Fatalf("node metrics: %+v", list.Items)
	}
	n1 := list.Items[0]
	if n1.Usage.Cpu().String() != "1500m" || n1.Usage.Memory().String() != "2Gi" || n1.Window.Duration != 15*time.Second ||
		!n1.Timestamp.Time.Equal(usageAt) || n1.Labels["tier"] != "n1" {
		t.Errorf("n1: %+v", n1)
	}
	if len(e.wasAsked("n2")) == 0 {
		t.Errorf("n2 (Ready) was not asked")
	}
	if len(e.wasAsked("n3")) != 0 {
		t.Errorf("n3 (not Ready) was asked")
	}

	if got, err := nm.Get(t.Context(), "n1", metav1.GetOptions{}); err != nil || got.Name != "n1" || got.Usage.Cpu().MilliValue() != 1500 {
		t.Errorf("get n1: %+v, %v", got, err)
	}
	for _, name := range []string{"n2", "n3", "nope"} {
		if _, err := nm.Get(t.Context(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get %s: %v, want NotFound", name, err)
		}
	}
	if l, err := nm.List(t.Context(), metav1.ListOptions{LabelSelector: "tier=n2"}); err != nil || len(l.Items) != 0 {
		t.Errorf("tier=n2: %+v, %v", l, err)
	}
	if l, err := nm.List(t.Context(), metav1.ListOptions{LabelSelector: "tier in (n1,n3)"}); err != nil || len(l.Items) != 1 {
		t.Errorf("tier in (n1,n3): %+v, %v", l, err)
	}
	if _, err := nm.List(t.Context(), metav1.ListOptions{LabelSelector: "tier in (n1"}); !apierrors.IsBadRequest(err) {
		t.Errorf("a malformed selector: %v, want BadRequest", err)
	}

	// The wire form: kubectl top decodes this JSON.
	raw, err := e.env.client.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/nodes/n1").DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"NodeMetrics"`, `"apiVersion":"metrics.k8s.io/v1beta1"`, `"timestamp":"2026-03-04T05:06:07Z"`,
		`"window":"15s"`, `"usage":{"cpu":"1500m","memory":"2Gi"}`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("node metrics JSON lacks %s: %s", want, raw)
		}
	}
}

func TestMetricsPods(t *testing.T) {
	e := startMetrics(t)
	a := e.pod(t, "default", "a", "n1", "web", "app", "sidecar")
	e.pod(t, "default", "b", "n1", "db", "db")   // no metrics yet
	e.pod(t, "default", "c", "n2", "web", "app") // on the silent node
	o := e.pod(t, "other", "o", "n1", "web", "app")
	e.pod(t, "default", "pending", "", "web", "app") // not bound: no node to ask
	e.pods.Store(&[]metrics.PodUsage{
		{UID: string(a.UID), Usage: usage(3e8, 30<<20), Containers: []metrics.ContainerUsage{
			{Name: "app", Usage: usage(2e8, 20<<20)}, {Name: "sidecar", Usage: usage(1e8, 10<<20)}}},
		{UID: string(o.UID), Usage: usage(5e6, 1<<20), Containers: []metrics.ContainerUsage{{Name: "app", Usage: usage(5e6, 1<<20)}}},
		{UID: "a-pod-the-gateway-does-not-know", Usage: usage(1, 1), Containers: []metrics.ContainerUsage{{Name: "x", Usage: usage(1, 1)}}},
	})
	pm := e.client.MetricsV1beta1()

	names := func(l []string, err error) string {
		if err != nil {
			return err.Error()
		}
		return strings.Join(l, " ")
	}
	list := func(ns, selector string) ([]string, error) {
		l, err := pm.PodMetricses(ns).List(t.Context(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, m := range l.Items {
			out = append(out, m.Namespace+"/"+m.Name)
		}
		return out, nil
	}
	start := time.Now()
	for _, tc := range []struct{ ns, selector, want string }{
		{"", "", "default/a other/o"},
		{"default", "", "default/a"},
		{"other", "", "other/o"},
		{"", "app=web", "default/a other/o"},
		{"", "app=db", ""},
		{"", "app notin (web)", ""},
	} {
		if got := names(list(tc.ns, tc.selector)); got != tc.want {
			t.Errorf("pods in %q with %q: %q, want %q", tc.ns, tc.selector, got, tc.want)
		}
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("six lists with a silent node took %s", d)
	}
	for _, req := range e.wasAsked("n1") {
		if req.AllPods || req.Node || len(req.Pods) == 0 {
			t.Errorf("n1 was asked %+v, want its pods by uid", req)
		}
	}

	got, err := pm.PodMetricses("default").Get(t.Context(), "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Containers) != 2 || got.Containers[0].Name != "app" || got.Containers[0].Usage.Cpu().String() != "200m" ||
		got.Containers[1].Usage.Memory().String() != "10Mi" || got.Window.Duration != 15*time.Second || got.Labels["app"] != "web" {
		t.Errorf("pod a: %+v", got)
	}
	_, err = pm.PodMetricses("default").Get(t.Context(), "b", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `pods.metrics.k8s.io "default/b" not found`) {
		t.Errorf("get b (no metrics): %v, want NotFound", err)
	}
	for _, name := range []string{"c", "pending", "nonexistent"} {
		if _, err := pm.PodMetricses("default").Get(t.Context(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("get %s: %v, want NotFound", name, err)
		}
	}

	rc := e.env.client.CoreV1().RESTClient()
	for _, tc := range []struct {
		path   string
		params map[string]string
		method string
		code   int32
	}{
		{"/apis/metrics.k8s.io/v1beta1/pods", map[string]string{"labelSelector": "app in (web"}, "GET", 400},
		{"/apis/metrics.k8s.io/v1beta1/pods", map[string]string{"fieldSelector": "spec.nope=1"}, "GET", 400},
		{"/apis/metrics.k8s.io/v1beta1/namespaces/Bad_NS/pods", nil, "GET", 400},
		{"/apis/metrics.k8s.io/v1beta1/nodes", map[string]string{"watch": "true"}, "GET", 405},
		{"/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/a", nil, "DELETE", 405},
		{"/apis/metrics.k8s.io/v1beta1/nope", nil, "GET", 404},
	} {
		req := rc.Verb(tc.method).AbsPath(tc.path)
		for k, v := range tc.params {
			req = req.Param(k, v)
		}
		_, err := req.DoRaw(t.Context())
		var se *apierrors.StatusError
		if !errorsAs(err, &se) || se.ErrStatus.Code != tc.code {
			t.Errorf("%s %s %v: %v, want %d", tc.method, tc.path, tc.params, err, tc.code)
		}
	}

	raw, err := rc.Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces/other/pods").DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"kind":"PodMetricsList"`, `"name":"o"`, `"namespace":"other"`, `"window":"15s"`,
		`"containers":[{"name":"app","usage":{"cpu":"5m","memory":"1Mi"}}]`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("pod metrics JSON lacks %s: %s", want, raw)
		}
	}
}
