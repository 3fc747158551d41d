package tables

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// listLimit is how many addresses, ports or hosts a cell shows before
// "+ N more...".
const listLimit = 3

var serviceSpecDoc = corev1.ServiceSpec{}.SwaggerDoc()

var servicePrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Type", "string", serviceSpecDoc["type"]),
	col("Cluster-IP", "string", serviceSpecDoc["clusterIP"]),
	col("External-IP", "string", serviceSpecDoc["externalIPs"]),
	col("Port(s)", "string", serviceSpecDoc["ports"]),
	colAge,
	wide(col("Selector", "string", serviceSpecDoc["selector"])),
}, func(s *corev1.Service, now time.Time) ([]any, error) {
	clusterIP := "<none>"
	if len(s.Spec.ClusterIPs) > 0 {
		clusterIP = s.Spec.ClusterIPs[0]
	}
	return []any{
		s.Name, string(s.Spec.Type), clusterIP, externalIP(s), orNone(servicePorts(s.Spec.Ports)),
		age(s.CreationTimestamp, now), labels.FormatLabels(s.Spec.Selector),
	}, nil
})

func externalIP(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return orNone(strings.Join(s.Spec.ExternalIPs, ","))
	case corev1.ServiceTypeLoadBalancer:
		ips := lbAddresses(s.Status.LoadBalancer.Ingress)
		if all := append(ips, s.Spec.ExternalIPs...); len(all) > 0 {
			return strings.Join(all, ",")
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	}
	return "<unknown>"
}

// lbAddresses lists the distinct IPs (or else hostnames) of load-balancer
// ingress points, sorted. The apiserver renders tables as for -o wide, so
// the list is never clipped.
func lbAddresses(ingress []corev1.LoadBalancerIngress) []string {
	seen := map[string]bool{}
	var out []string
	for _, in := range ingress {
		a := in.IP
		if a == "" {
			a = in.Hostname
		}
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

func servicePorts(ports []corev1.ServicePort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.NodePort > 0 {
			parts[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		}
	}
	return strings.Join(parts, ",")
}

var endpointsPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
	colAge,
}, func(e *corev1.Endpoints, now time.Time) ([]any, error) {
	return []any{e.Name, formatEndpoints(e), age(e.CreationTimestamp, now)}, nil
})

// formatEndpoints lists address:port pairs (bare addresses for subsets
// without ports), the first few then a count of the rest.
func formatEndpoints(e *corev1.Endpoints) string {
	if len(e.Subsets) == 0 {
		return "<none>"
	}
	var list []string
	count := 0
	add := func(s string) {
		count++
		if len(list) < listLimit {
			list = append(list, s)
		}
	}
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	out := strings.Join(list, ",")
	if count > listLimit {
		out = fmt.Sprintf("%s + %d more...", out, count-listLimit)
	}
	return out
}

var endpointSliceDoc = discoveryv1beta1.EndpointSlice{}.SwaggerDoc()

var endpointSlicePrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("AddressType", "string", endpointSliceDoc["addressType"]),
	col("Ports", "string", endpointSliceDoc["ports"]),
	col("Endpoints", "string", endpointSliceDoc["endpoints"]),
	colAge,
}, func(es *discoveryv1.EndpointSlice, now time.Time) ([]any, error) {
	ports := make([]string, len(es.Ports))
	for i, p := range es.Ports {
		switch {
		case p.Port != nil:
			ports[i] = strconv.Itoa(int(*p.Port))
		case p.Name != nil:
			ports[i] = *p.Name
		default:
			ports[i] = "*"
		}
	}
	var addrs []string
	for _, e := range es.Endpoints {
		addrs = append(addrs, e.Addresses...)
	}
	return []any{
		es.Name, string(es.AddressType), firstOf(ports, listLimit), firstOf(addrs, listLimit),
		age(es.CreationTimestamp, now),
	}, nil
})

var ingressPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
	col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
	col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
	col("Ports", "string", "Ports of TLS configurations that open"),
	colAge,
}, func(ing *networkingv1.Ingress, now time.Time) ([]any, error) {
	class := "<none>"
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	var lb []corev1.LoadBalancerIngress
	for _, in := range ing.Status.LoadBalancer.Ingress {
		lb = append(lb, corev1.LoadBalancerIngress{IP: in.IP, Hostname: in.Hostname})
	}
	ports := "80"
	if len(ing.Spec.TLS) > 0 {
		ports = "80, 443"
	}
	return []any{
		ing.Name, class, ingressHosts(ing.Spec.Rules), strings.Join(lbAddresses(lb), ","), ports,
		age(ing.CreationTimestamp, now),
	}, nil
})

// ingressHosts lists the first three hosts the rules name, "*" when none
// does. Once three are listed, any further rule makes it add how many rules
// (not hosts) there are beyond the third, as upstream counts.
func ingressHosts(rules []networkingv1.IngressRule) string {
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == listLimit {
			more = true
			break
		}
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	out := strings.Join(hosts, ",")
	if more {
		out = fmt.Sprintf("%s + %d more...", out, len(rules)-listLimit)
	}
	return out
}

var networkPolicyPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Pod-Selector", "string", extensionsv1beta1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]),
	colAge,
}, func(np *networkingv1.NetworkPolicy, now time.Time) ([]any, error) {
	return []any{np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector), age(np.CreationTimestamp, now)}, nil
})
