package endpoints_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/gateway"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/endpoints"
	"github.com/wakehq/wake/services/controllers/endpointslice"
	"github.com/wakehq/wake/services/controllers/servicelb"
	"github.com/wakehq/wake/services/reconcile"
)

const token = "test-token"

// start runs a gateway and the Service controllers over an in-process
// NATS server, and returns a client and the gateway's URL.
func start(t *testing.T) (*kubernetes.Clientset, string) {
	t.Helper()
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	proj := projections.New(projections.Options{})
	var done []chan struct{}
	run := func(fn func(context.Context)) {
		ch := make(chan struct{})
		done = append(done, ch)
		go func() { defer close(ch); fn(ctx) }()
	}
	run(func(ctx context.Context) { proj.Run(ctx, log, nil) })
	gw := gateway.New(gateway.Config{Log: log, Projection: proj, Tokens: gateway.Tokens{token: {Name: "tester"}}})
	ts := httptest.NewUnstartedServer(gw.Handler())
	ts.StartTLS()
	t.Cleanup(func() {
		ts.Close()
		cancel()
		for _, ch := range done {
			<-ch
		}
	})
	<-proj.Ready()
	if err := gw.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*reconcile.Loop{endpoints.Loop(log, proj), endpointslice.Loop(log, proj), servicelb.Loop(log, proj)} {
		run(func(ctx context.Context) { l.Run(ctx) })
	}
	rc := &rest.Config{Host: ts.URL, BearerToken: token, QPS: -1}
	rc.TLSClientConfig.Insecure = true
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return client, ts.URL
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s", what, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readyPod(t *testing.T, c kubernetes.Interface, name, ip string, ready bool) {
	t.Helper()
	ctx := t.Context()
	p, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		p, err = c.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "web", Image: "nginx",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP, p.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	if _, err := c.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func addrs(as []corev1.EndpointAddress) string {
	var out []string
	for _, a := range as {
		out = append(out, a.IP)
	}
	return strings.Join(out, ",")
}

func TestServiceThroughTheGateway(t *testing.T) {
	c, url := start(t)
	ctx := t.Context()
	for i := 1; i <= 3; i++ {
		readyPod(t, c, fmt.Sprintf("web-%d", i), fmt.Sprintf("10.244.0.%d", i), true)
	}
	_, err := c.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	endpointsAre := func(ready, notReady string) func() (bool, string) {
		return func() (bool, string) {
			ep, err := c.CoreV1().Endpoints("default").Get(ctx, "web", metav1.GetOptions{})
			if err != nil || len(ep.Subsets) != 1 {
				return false, fmt.Sprint(err, ep)
			}
			ss := ep.Subsets[0]
			got := addrs(ss.Addresses) + "|" + addrs(ss.NotReadyAddresses)
			return got == ready+"|"+notReady && ss.Ports[0].Port == 8080, got
		}
	}
	eventually(t, "Endpoints with 3 ready pods", endpointsAre("10.244.0.1,10.244.0.2,10.244.0.3", ""))
	sliceIs := func(ready string) func() (bool, string) {
		return func() (bool, string) {
			list, err := c.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
			if err != nil || len(list.Items) != 1 {
				return false, fmt.Sprint(err, list)
			}
			var got []string
			for _, e := range list.Items[0].Endpoints {
				got = append(got, fmt.Sprintf("%s=%v", e.Addresses[0], *e.Conditions.Ready))
			}
			slices.Sort(got)
			return strings.Join(got, ",") == ready, strings.Join(got, ",")
		}
	}
	eventually(t, "an EndpointSlice with 3 ready pods", sliceIs("10.244.0.1=true,10.244.0.2=true,10.244.0.3=true"))

	readyPod(t, c, "web-2", "10.244.0.2", false)
	eventually(t, "web-2 not ready", endpointsAre("10.244.0.1,10.244.0.3", "10.244.0.2"))
	eventually(t, "web-2 not ready in the slice", sliceIs("10.244.0.1=true,10.244.0.2=false,10.244.0.3=true"))

	// The seed's LoadBalancer gets the nodes' addresses once a node exists.
	_, err = c.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "example-service"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "example"},
			Ports: []corev1.ServicePort{{Port: 8765, TargetPort: intstr.FromInt32(9376)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	node, err = c.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.7"}}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the LoadBalancer's ingress", func() (bool, string) {
		s, err := c.CoreV1().Services("default").Get(ctx, "example-service", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ing := s.Status.LoadBalancer.Ingress
		return len(ing) == 1 && ing[0].IP == "192.0.2.7", fmt.Sprint(ing)
	})
	kubectlGetSvc(t, url)
}

// kubectlGetSvc runs the real kubectl, when built (bin/kubectl), and checks
// its CLUSTER-IP and EXTERNAL-IP columns.
func kubectlGetSvc(t *testing.T, url string) {
	kubectl, _ := filepath.Abs("../../../bin/kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Log("bin/kubectl not built (go build -o bin/kubectl ./cmd/kubectl): skipping the kubectl check")
		return
	}
	cfg := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: w, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: %q}}]
contexts: [{name: c, context: {cluster: w, user: u}}]
current-context: c
`, url, token)
	if err := os.WriteFile(cfg, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, "--kubeconfig", cfg, "get", "svc").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get svc: %v\n%s", err, out)
	}
	t.Logf("kubectl get svc:\n%s", out)
	for _, want := range []string{"CLUSTER-IP", "EXTERNAL-IP", "10.96.0.1 ", "192.0.2.7", "8765:3"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl get svc lacks %q", want)
		}
	}
}
