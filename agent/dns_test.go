package agent

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodResolvConf(t *testing.T) {
	host := parseResolvConf([]byte("# generated\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch corp.example. lab.example\noptions edns0 timeout:2\n"))
	if !slices.Equal(host.Searches, []string{"corp.example", "lab.example"}) || len(host.Nameservers) != 2 || !slices.Equal(host.Options, []string{"edns0", "timeout:2"}) {
		t.Fatalf("parsed host resolv.conf: %+v", host)
	}
	cluster := clusterResolver{Servers: []string{"10.244.0.1"}, Domain: "cluster.local", Host: host}
	two := "2"
	pod := func(policy corev1.DNSPolicy, hostNet bool, cfg *corev1.PodDNSConfig) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"},
			Spec: corev1.PodSpec{DNSPolicy: policy, HostNetwork: hostNet, DNSConfig: cfg}}
	}
	clusterFile := "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\nnameserver 10.244.0.1\noptions ndots:5\n"
	hostFile := "search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\noptions edns0 timeout:2\n"
	tests := []struct {
		name string
		pod  *corev1.Pod
		c    clusterResolver
		want string
	}{
		{"ClusterFirst (unset)", pod("", false, nil), cluster, clusterFile},
		{"ClusterFirst", pod(corev1.DNSClusterFirst, false, nil), cluster, clusterFile},
		{"ClusterFirst with hostNetwork is Default", pod(corev1.DNSClusterFirst, true, nil), cluster, hostFile},
		{"ClusterFirstWithHostNet", pod(corev1.DNSClusterFirstWithHostNet, true, nil), cluster, clusterFile},
		{"Default", pod(corev1.DNSDefault, false, nil), cluster, hostFile},
		{"ClusterFirst without cluster DNS falls back", pod(corev1.DNSClusterFirst, false, nil), clusterResolver{Domain: "cluster.local", Host: host}, hostFile},
		{"None, empty", pod(corev1.DNSNone, false, nil), cluster, ""},
		{"None with dnsConfig", pod(corev1.DNSNone, false, &corev1.PodDNSConfig{
			Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "rotate"}}}), cluster,
			"search a.example\nnameserver 1.1.1.1\noptions ndots:2 rotate\n"},
		{"ClusterFirst merged with dnsConfig", pod(corev1.DNSClusterFirst, false, &corev1.PodDNSConfig{
			Nameservers: []string{"10.244.0.1", "1.1.1.1"}, Searches: []string{"svc.cluster.local", "extra.example"},
			Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}, {Name: "edns0"}}}), cluster,
			"search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example extra.example\nnameserver 10.244.0.1\nnameserver 1.1.1.1\noptions ndots:2 edns0\n"},
		{"Default merged, three nameservers at most", pod(corev1.DNSDefault, false, &corev1.PodDNSConfig{
			Nameservers: []string{"1.1.1.1", "8.8.8.8"}}), cluster,
			"search corp.example lab.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\nnameserver 1.1.1.1\noptions edns0 timeout:2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(podResolvConf(tt.pod, tt.c).Bytes()); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestResolvConfSearchLimits(t *testing.T) {
	var many []string
	for i := range 40 {
		many = append(many, strings.Repeat("x", 60)+string(rune('a'+i%26))+".example")
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default"}, Spec: corev1.PodSpec{DNSPolicy: corev1.DNSNone,
		DNSConfig: &corev1.PodDNSConfig{Searches: many}}}
	got := podResolvConf(p, clusterResolver{}).Searches
	if len(got) > maxSearchPaths || len(strings.Join(got, " ")) > maxSearchListChars || len(got) == 0 {
		t.Errorf("%d search paths, %d characters", len(got), len(strings.Join(got, " ")))
	}
}
