package devcluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/wakehq/wake/internal/testimage"
)

// BenchmarkEndpointChangeAllNodes measures, on a three-node cluster, the
// time from a new replica becoming Ready (seen through a watch, as any
// client sees it) until every node's NodePort sends traffic to it: the
// EndpointSlice controller, the log, and each agent's projection and
// nftables update, all in between. Each iteration scales a Deployment
// from 1 to 2 and back.
//
//	go test -run '^$' -bench EndpointChangeAllNodes -benchtime 20x ./internal/devcluster/
func BenchmarkEndpointChangeAllNodes(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: network namespaces, a bridge, containers")
	}
	var registry string
	c, err := Start(b.Context(), Config{Dir: b.TempDir() + "/c", Wake: wakeBinary(b), Nodes: 3, Gateways: 1, Schedulers: 1, Controllers: 1,
		Registry: func(hostIP string) (string, error) {
			registry = testimage.RegistryAt(b, hostIP+":0")
			return registry, nil
		}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	image := testimage.Push(b, registry, "wake/tool:1", testimage.Image(b))
	cs := clientFor(b, c.Kubeconfigs[0])
	ctx := b.Context()

	one := int32(1)
	labels := map[string]string{"app": "web"}
	spec := podSpec(image)
	spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}
	spec.Containers[0].ReadinessProbe = &corev1.Probe{PeriodSeconds: 1,
		ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: appsv1.DeploymentSpec{
		Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec}}}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, Selector: labels,
		Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}}
	if svc, err = cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	readyPods := func() []string {
		l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return nil
		}
		var names []string
		for _, p := range l.Items {
			if podReady(p) && p.DeletionTimestamp == nil {
				names = append(names, p.Name)
			}
		}
		return names
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				b.Fatalf("waited 60s for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("one ready replica", func() bool { return len(readyPods()) == 1 })
	nodes := []string{c.MemberIP("n1"), c.MemberIP("n2"), c.MemberIP("n3")}
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		before := readyPods()
		w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			b.Fatal(err)
		}
		scale(ctx, b, cs, 2)
		// The new replica's Ready, the moment a watching client sees it.
		var fresh string
		var readyAt time.Time
		timeout := time.After(60 * time.Second)
		for fresh == "" {
			select {
			case ev := <-w.ResultChan():
				if p, ok := ev.Object.(*corev1.Pod); ok && podReady(*p) && p.DeletionTimestamp == nil && !slices.Contains(before, p.Name) {
					fresh, readyAt = p.Name, time.Now()
				}
			case <-timeout:
				b.Fatal("no new Ready replica in 60s")
			}
		}
		w.Stop()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var last time.Time
		for _, ip := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				url := fmt.Sprintf("http://%s:%d/", ip, svc.Spec.Ports[0].NodePort)
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
					resp, err := hc.Get(url)
					if err != nil {
						continue
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if strings.Contains(string(body), fresh) {
						mu.Lock()
						if now := time.Now(); now.After(last) {
							last = now
						}
						mu.Unlock()
						return
					}
				}
				b.Errorf("node %s never sent traffic to %s", ip, fresh)
			}()
		}
		wg.Wait()
		lat = append(lat, last.Sub(readyAt))
		scale(ctx, b, cs, 1)
		waitFor("back to one replica", func() bool { return len(readyPods()) == 1 })
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "ms-p99")
}

func scale(ctx context.Context, b *testing.B, cs *kubernetes.Clientset, n int32) {
	b.Helper()
	sc, err := cs.AppsV1().Deployments("default").GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	sc.Spec.Replicas = n
	sc.ResourceVersion = "" // unconditional, as kubectl scale does
	if _, err := cs.AppsV1().Deployments("default").UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
}
