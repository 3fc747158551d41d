package gateway_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/wakehq/wake/gateway"
	"github.com/wakehq/wake/services/ipam"
)

func service(name string, mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": name},
		Ports:    []corev1.ServicePort{{Port: 80}},
	}}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func createSvc(t *testing.T, c kubernetes.Interface, s *corev1.Service) *corev1.Service {
	t.Helper()
	out, err := c.CoreV1().Services("default").Create(t.Context(), s, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", s.Name, err)
	}
	return out
}

func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("want 422 saying %q, got %v", msg, err)
	}
}

func TestKubernetesService(t *testing.T) {
	e := startWith(t, func(c *gateway.Config) { c.Services.AdvertiseAddress = "192.0.2.10" })
	ctx := t.Context()
	svc, err := e.client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.96.0.1" || svc.Spec.Ports[0].Port != 443 || svc.Spec.Ports[0].TargetPort.IntValue() != 6443 {
		t.Fatalf("kubernetes service: %+v", svc.Spec)
	}
	ep, err := e.client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Subsets[0].Addresses[0].IP != "192.0.2.10" || ep.Subsets[0].Ports[0].Port != 6443 {
		t.Fatalf("kubernetes endpoints: %+v", ep.Subsets)
	}
	sl, err := e.client.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sl.Endpoints[0].Addresses[0] != "192.0.2.10" || sl.Labels["kubernetes.io/service-name"] != "kubernetes" {
		t.Fatalf("kubernetes slice: %+v", sl)
	}
}

func TestClusterIPsUniqueUnderConcurrency(t *testing.T) {
	e := start(t)
	const n = 200
	ips := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			s, err := e.client.CoreV1().Services("default").Create(context.Background(), service(fmt.Sprintf("s%d", i), nil), metav1.CreateOptions{})
			if err != nil {
				errs <- err
				return
			}
			ips[i] = s.Spec.ClusterIP
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r, _ := ipam.ParseIPRange(ipam.DefaultServiceCIDR)
	seen := map[string]bool{"10.96.0.1": true}
	for _, ip := range ips {
		a, err := netip.ParseAddr(ip)
		if err != nil || !r.Contains(a) || seen[ip] {
			t.Fatalf("cluster IP %q: invalid, out of range or duplicate", ip)
		}
		seen[ip] = true
	}
	if recs, _ := e.proj.List(ipam.IPGroup, ipam.IPResource, ""); len(recs) != n+1 {
		t.Fatalf("%d IPAddress records for %d services", len(recs), n+1)
	}
}

// Concurrent creates of one name: one wins, the losers release the IPs
// they claimed before their Service append failed.
func TestFailedCreateReleases(t *testing.T) {
	e := start(t)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			e.client.CoreV1().Services("default").Create(context.Background(), service("same", nil), metav1.CreateOptions{})
		})
	}
	wg.Wait()
	if recs, _ := e.proj.List(ipam.IPGroup, ipam.IPResource, ""); len(recs) != 2 {
		t.Fatalf("%d IPAddress records, want 2 (kubernetes and same)", len(recs))
	}
}

func TestRequestedClusterIP(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	svcs := e.client.CoreV1().Services("default")
	a := createSvc(t, e.client, service("a", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.5.5" }))
	if a.Spec.ClusterIP != "10.96.5.5" || a.Spec.ClusterIPs[0] != "10.96.5.5" {
		t.Fatalf("requested IP not kept: %v", a.Spec.ClusterIPs)
	}
	_, err := svcs.Create(ctx, service("b", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.5.5" }), metav1.CreateOptions{})
	wantInvalid(t, err, "provided IP is already allocated")
	_, err = svcs.Create(ctx, service("b", func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.5" }), metav1.CreateOptions{})
	wantInvalid(t, err, "is not in the valid range")
	_, err = svcs.Create(ctx, service("b", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.1" }), metav1.CreateOptions{})
	wantInvalid(t, err, "provided IP is already allocated")

	// Headless allocates nothing.
	h := createSvc(t, e.client, service("h", func(s *corev1.Service) { s.Spec.ClusterIP = "None" }))
	if h.Spec.ClusterIP != "None" {
		t.Fatalf("headless got %q", h.Spec.ClusterIP)
	}

	// An update that omits the cluster IP keeps it.
	a.Spec.ClusterIP, a.Spec.ClusterIPs = "", nil
	a.Spec.Ports[0].Port = 81
	a2, err := svcs.Update(ctx, a, metav1.UpdateOptions{})
	if err != nil || a2.Spec.ClusterIP != "10.96.5.5" {
		t.Fatalf("update: %v %v", err, a2)
	}
	// Changing it is refused.
	a2.Spec.ClusterIP, a2.Spec.ClusterIPs = "10.96.5.6", nil
	if _, err := svcs.Update(ctx, a2, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("changing the cluster IP: %v", err)
	}

	// Deleting frees the IP: it can be requested again.
	if err := svcs.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	createSvc(t, e.client, service("c", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.5.5" }))

	// Turning into ExternalName releases it too.
	patch := []byte(`{"spec":{"type":"ExternalName","externalName":"example.com","clusterIP":null,"clusterIPs":null,"selector":null,"ports":null}}`)
	if _, err := svcs.Patch(ctx, "c", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	createSvc(t, e.client, service("d", func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.5.5" }))
}

func TestNodePorts(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	svcs := e.client.CoreV1().Services("default")
	const n = 40
	ports := make([][]int32, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			s, err := svcs.Create(context.Background(), service(fmt.Sprintf("np%d", i), func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeNodePort
				s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53}}
			}), metav1.CreateOptions{})
			if err != nil {
				errs <- err
				return
			}
			for _, p := range s.Spec.Ports {
				ports[i] = append(ports[i], p.NodePort)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[int32]bool{}
	for i, ps := range ports {
		if ps[1] != ps[2] {
			t.Errorf("np%d: UDP and TCP port 53 got node ports %d and %d, want one", i, ps[1], ps[2])
		}
		for _, p := range ps[:2] {
			if p < 30000 || p > 32767 || seen[p] {
				t.Fatalf("node port %d out of range or duplicate", p)
			}
			seen[p] = true
		}
	}
	taken := ports[0][0]
	_, err := svcs.Create(ctx, service("x", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = taken
	}), metav1.CreateOptions{})
	wantInvalid(t, err, "provided port is already allocated")

	// A LoadBalancer gets node ports; back to ClusterIP drops them and
	// frees them for others.
	lb := createSvc(t, e.client, service("lb", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports[0].NodePort = 31999
	}))
	if lb.Spec.Ports[0].NodePort != 31999 || lb.Spec.ClusterIP == "" {
		t.Fatalf("lb: %+v", lb.Spec)
	}
	patch := []byte(`{"spec":{"type":"ClusterIP","externalTrafficPolicy":null,"allocateLoadBalancerNodePorts":null}}`)
	got, err := svcs.Patch(ctx, "lb", types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil || got.Spec.Ports[0].NodePort != 0 || got.Spec.ClusterIP != lb.Spec.ClusterIP {
		t.Fatalf("to ClusterIP: %v %+v", err, got)
	}
	createSvc(t, e.client, service("y", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.Ports[0].NodePort = 31999
	}))
}
