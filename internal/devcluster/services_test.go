package devcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/wakehq/wake/internal/testimage"
)

// Pods reach each other across nodes (host-gateway routes between the
// nodes' pod CIDRs) by Service name (cluster DNS on every node) through a
// ClusterIP whose endpoints are on other nodes, and a NodePort answers from
// the host on any node's address: issue 5's checks, with every agent a
// separate process in its own network namespace.
func TestServicesAcrossNodes(t *testing.T) {
	requireRoot(t)
	var registry string
	c, err := Start(t.Context(), Config{Dir: t.TempDir() + "/c", Wake: wakeBinary(t), Nodes: 3, Gateways: 1, Schedulers: 1, Controllers: 1,
		Logf: t.Logf, Registry: func(hostIP string) (string, error) {
			registry = testimage.RegistryAt(t, hostIP+":0")
			return registry, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if left := c.Leftovers(); len(left) > 0 {
			t.Errorf("left behind after Close: %v", left)
		}
	})
	image := testimage.Push(t, registry, "wake/tool:1", testimage.Image(t))
	cs := clientFor(t, c.Kubeconfigs[0])
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	e := &drillEnv{t: t, c: c, clients: []*kubernetes.Clientset{cs}}
	if err := e.waitNodesReady(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}

	// One web replica per node, spread by hostname; a readiness probe.
	three := int32(3)
	labels := map[string]string{"app": "web"}
	spec := podSpec(image)
	spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 1,
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}}}
	spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
		WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}}
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: appsv1.DeploymentSpec{
		Replicas: &three, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: labels,
		Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}}
	if svc, err = cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods []corev1.Pod
	waitCond(ctx, t, "three ready web pods on three nodes", func() bool {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false
		}
		nodes := map[string]bool{}
		for _, p := range l.Items {
			if podReady(p) {
				nodes[p.Spec.NodeName] = true
			}
		}
		pods = l.Items
		return len(l.Items) == 3 && len(nodes) == 3
	})

	// A client on n1 fetches by name: every replica answers, two of them
	// from other nodes.
	client := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "client"}, Spec: podSpec(image)}
	client.Spec.RestartPolicy = corev1.RestartPolicyNever
	client.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "n1"}
	client.Spec.Containers[0].Args = []string{"fetch", "http://web/", "60"}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, client, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var phase corev1.PodPhase
	waitCond(ctx, t, "the client pod to finish", func() bool {
		p, err := cs.CoreV1().Pods("default").Get(ctx, "client", metav1.GetOptions{})
		if err == nil {
			phase = p.Status.Phase
		}
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed
	})
	b, err := cs.CoreV1().Pods("default").GetLogs("client", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	if phase != corev1.PodSucceeded || !strings.Contains(out, "fetched 60/60") {
		t.Fatalf("client %s:\n%s", phase, out)
	}
	for _, p := range pods {
		if !strings.Contains(out, "hello from "+p.Name) {
			t.Errorf("replica %s on %s never answered the client on n1:\n%s", p.Name, p.Spec.NodeName, out)
		}
	}

	// The NodePort answers from the host on every node's address.
	hc := &http.Client{Timeout: 3 * time.Second}
	for _, n := range []string{"n1", "n2", "n3"} {
		url := fmt.Sprintf("http://%s:%d/", c.MemberIP(n), svc.Spec.Ports[0].NodePort)
		var body string
		waitCond(ctx, t, "the NodePort on "+n, func() bool {
			resp, err := hc.Get(url)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return resp.StatusCode == http.StatusOK
		})
		if !strings.HasPrefix(body, "hello from web-") {
			t.Errorf("NodePort on %s: %q", n, body)
		}
	}
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitCond(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
