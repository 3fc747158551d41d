package agent

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/services/dns"
)

// DefaultClusterDomain is the cluster's DNS zone.
const DefaultClusterDomain = "cluster.local"

// Limits of a resolv.conf, as the kubelet applies them (glibc's, raised
// by Kubernetes for search paths).
const (
	maxNameservers     = 3
	maxSearchPaths     = 32
	maxSearchListChars = 2048
)

// resolverConfig is one resolv.conf: nameservers, search domains, options.
type resolverConfig struct {
	Nameservers []string
	Searches    []string
	Options     []string
}

// clusterResolver is what a node's pods resolve with under ClusterFirst:
// the cluster DNS servers (none: cluster DNS is off and ClusterFirst falls
// back to the node's resolvers, as the kubelet does without --cluster-dns)
// and the cluster domain.
type clusterResolver struct {
	Servers []string
	Domain  string
	Host    resolverConfig // the node's, for Default and the search tail
}

// podResolvConf is the pod's resolv.conf as the kubelet writes it
// (pkg/kubelet/network/dns): ClusterFirst (the default) and
// ClusterFirstWithHostNet give the cluster servers, the search path
// <ns>.svc.<domain> svc.<domain> <domain> followed by the node's, and
// ndots:5; ClusterFirst with hostNetwork, and Default, give the node's
// configuration; None starts empty. spec.dnsConfig is then merged in:
// nameservers and searches appended without duplicates, options replaced
// by name. Nameservers beyond 3 and search paths beyond 32 (or 2048
// characters) are dropped.
func podResolvConf(pod *corev1.Pod, c clusterResolver) resolverConfig {
	var out resolverConfig
	cluster := false
	switch pod.Spec.DNSPolicy {
	case corev1.DNSNone:
	case corev1.DNSClusterFirstWithHostNet:
		cluster = true
	case corev1.DNSDefault:
	default: // ClusterFirst, or unset
		cluster = !pod.Spec.HostNetwork
	}
	switch {
	case pod.Spec.DNSPolicy == corev1.DNSNone:
	case cluster && len(c.Servers) > 0:
		out.Nameservers = slices.Clone(c.Servers)
		out.Searches = c.Host.Searches
		if c.Domain != "" {
			out.Searches = dedup(append([]string{pod.Namespace + ".svc." + c.Domain, "svc." + c.Domain, c.Domain}, c.Host.Searches...))
		}
		out.Options = []string{"ndots:5"}
	default:
		out = resolverConfig{slices.Clone(c.Host.Nameservers), slices.Clone(c.Host.Searches), slices.Clone(c.Host.Options)}
	}
	if d := pod.Spec.DNSConfig; d != nil {
		out.Nameservers = dedup(append(out.Nameservers, d.Nameservers...))
		out.Searches = dedup(append(out.Searches, d.Searches...))
		var opts []string
		for _, o := range d.Options {
			s := o.Name
			if o.Value != nil {
				s += ":" + *o.Value
			}
			opts = append(opts, s)
		}
		out.Options = mergeOptions(out.Options, opts)
	}
	if len(out.Nameservers) > maxNameservers {
		out.Nameservers = out.Nameservers[:maxNameservers]
	}
	out.Searches = fitSearches(out.Searches)
	return out
}

// Bytes is the file.
func (r resolverConfig) Bytes() []byte {
	var b bytes.Buffer
	if len(r.Searches) > 0 {
		b.WriteString("search " + strings.Join(r.Searches, " ") + "\n")
	}
	for _, ns := range r.Nameservers {
		b.WriteString("nameserver " + ns + "\n")
	}
	if len(r.Options) > 0 {
		b.WriteString("options " + strings.Join(r.Options, " ") + "\n")
	}
	return b.Bytes()
}

func dedup(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// mergeOptions keeps base's order and replaces an option of the same name
// (ndots:5 and ndots:2 are one option) by extra's.
func mergeOptions(base, extra []string) []string {
	name := func(o string) string { n, _, _ := strings.Cut(o, ":"); return n }
	out := slices.Clone(base)
	for _, e := range extra {
		if i := slices.IndexFunc(out, func(o string) bool { return name(o) == name(e) }); i >= 0 {
			out[i] = e
		} else {
			out = append(out, e)
		}
	}
	return out
}

// fitSearches drops search paths beyond the limits (the kubelet records an
// event; the pod keeps running).
func fitSearches(s []string) []string {
	if len(s) > maxSearchPaths {
		s = s[:maxSearchPaths]
	}
	for len(s) > 0 && len(strings.Join(s, " ")) > maxSearchListChars {
		s = s[:len(s)-1]
	}
	return s
}

// parseResolvConf reads nameserver, search and options lines (the last
// search line wins, as in the resolver; trailing dots are dropped).
func parseResolvConf(b []byte) resolverConfig {
	var r resolverConfig
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			r.Nameservers = append(r.Nameservers, f[1])
		case "search":
			r.Searches = nil
			for _, s := range f[1:] {
				if s = strings.TrimSuffix(s, "."); s != "" {
					r.Searches = append(r.Searches, s)
				}
			}
		case "options":
			r.Options = append(r.Options, f[1:]...)
		}
	}
	return r
}

// nodeResolvConf is the node's resolver configuration as a pod can use it:
// systemd-resolved's upstream file when /etc/resolv.conf names its stub
// 127.0.0.53, which a pod cannot reach.
func nodeResolvConf() []byte {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err == nil && strings.Contains(string(b), "127.0.0.53") {
		if up, err := os.ReadFile("/run/systemd/resolve/resolv.conf"); err == nil {
			b = up
		}
	}
	return b
}

// clusterResolver is what this agent's pods resolve with: its own cluster
// DNS on the bridge address when it serves one, else (ClusterFirst falls
// back to) the node's resolvers. Set once in Run, before any pod starts.
func (a *Agent) clusterResolver() clusterResolver {
	c := clusterResolver{Domain: a.cfg.ClusterDomain, Host: parseResolvConf(nodeResolvConf())}
	if c.Domain == "" {
		c.Domain = DefaultClusterDomain
	}
	if a.cfg.ClusterDNS {
		c.Servers = []string{a.net.Gateway().String()}
	}
	return c
}

// startClusterDNS serves cluster DNS on the bridge address, port 53, for
// the node's pods, and makes their resolv.conf point there. A server that
// cannot start (say, port 53 taken on that address) is logged; pods keep
// the address, as they keep a kubelet's --cluster-dns that is down.
func (a *Agent) startClusterDNS(ctx context.Context) func() error {
	listen := net.JoinHostPort(a.net.Gateway().String(), "53")
	srv := dns.New(a.cfg.View, dns.Config{Listen: listen, Zone: a.cfg.ClusterDomain, Logger: a.log})
	return func() error {
		if err := srv.Run(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("cluster DNS stopped: pods on this node cannot resolve names", "listen", listen, "err", err)
		}
		return nil
	}
}
