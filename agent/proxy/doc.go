// Package proxy is the node's service data path: it programs the kernel with
// nftables (through github.com/google/nftables, netlink only) so that
// ClusterIP and NodePort traffic reaches a Service's ready endpoints.
//
// The pure core (Index, Desired) turns Services and EndpointSlices from the
// projection into ServicePorts; Kernel turns a change of ServicePorts into
// one nftables transaction; Proxy follows the projection and glues the two.
// It owns the table "wake" (family ip) and nothing else on the node; it must
// not touch pods, links or addresses.
//
// Table layout (kube-proxy's nftables mode, smaller):
//
//	nat-prerouting / nat-output (dstnat)  → jump services
//	services:  ip daddr . l4proto . th dport vmap @service-ips
//	           fib daddr type local, l4proto . th dport vmap @service-nodeports
//	service-<hash>:  numgen random mod N vmap { i : goto endpoint-<hash> }
//	external-<hash>: mark for masquerade, goto service-<hash>   (NodePort)
//	endpoint-<hash>: ip saddr == endpoint → mark (hairpin); dnat to ip:port
//	nat-postrouting (srcnat): ip saddr <cluster CIDR> ip daddr != <cluster CIDR> → masquerade
//	                          mark → masquerade
//	filter-{input,forward,output}: ct state new → @no-endpoint-* → reject
//	filter-forward: ip saddr <cluster CIDR> accept; ip daddr <cluster CIDR> accept
//
// The cluster CIDR rules exist when Config.ClusterCIDR is set: pods reach
// the outside with the node's address, while pod-to-pod traffic (across
// nodes too) keeps its source. Config.Table names another table for tests
// that share a network namespace with a real agent.
package proxy
