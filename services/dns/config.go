package dns

import (
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// DefaultListen is where `wake dns` and `wake up` serve unless told: a
// loopback address and an unprivileged port, so wake needs no root for it
// and does not collide with a resolver on :53. A node serving pods binds
// the address pods can reach (the bridge's, port 53) instead.
const DefaultListen = "127.0.0.1:10053"

// Config tunes a Server. The zero Config serves cluster.local on
// DefaultListen and forwards to the resolvers of /etc/resolv.conf.
type Config struct {
	// Listen is the UDP and TCP address ("host:port"; port 0 picks one,
	// the same for both). Default DefaultListen.
	Listen string
	// Zone is the cluster domain. Default "cluster.local".
	Zone string
	// TTL of every record and of negative answers, in seconds. Default 5.
	TTL uint32
	// Upstreams are the resolvers ("ip" or "ip:port") for names outside
	// the zone. Empty: the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is read when Upstreams is empty. Default /etc/resolv.conf.
	ResolvConf string
	// ForwardTimeout bounds each upstream attempt. Default 2 s.
	ForwardTimeout time.Duration
	Logger         *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Zone == "" {
		c.Zone = "cluster.local"
	}
	if c.TTL == 0 {
		c.TTL = 5
	}
	if c.ResolvConf == "" {
		c.ResolvConf = "/etc/resolv.conf"
	}
	if c.ForwardTimeout <= 0 {
		c.ForwardTimeout = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// upstreams resolves the configured or resolv.conf resolvers to host:port,
// dropping any that is this server itself (listen is the bound address).
func (c Config) upstreams(listen netip.AddrPort) []string {
	list := c.Upstreams
	port := "53"
	if len(list) == 0 {
		rc, err := dns.ClientConfigFromFile(c.ResolvConf)
		if err != nil {
			c.Logger.Warn("dns: no upstream resolvers; names outside the zone will fail", "resolv.conf", c.ResolvConf, "err", err)
			return nil
		}
		list, port = rc.Servers, rc.Port
	}
	var out []string
	for _, u := range list {
		hp := u
		if _, _, err := net.SplitHostPort(u); err != nil {
			hp = net.JoinHostPort(u, port)
		}
		ap, err := netip.ParseAddrPort(hp)
		if err != nil {
			c.Logger.Warn("dns: upstream is not ip:port; skipped", "upstream", u)
			continue
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		if isSelf(ap, listen) {
			c.Logger.Warn("dns: upstream is this server; skipped to avoid a loop", "upstream", u)
			continue
		}
		out = append(out, ap.String())
	}
	return out
}

// isSelf reports whether upstream reaches the server listening on listen.
func isSelf(upstream, listen netip.AddrPort) bool {
	if upstream.Port() != listen.Port() {
		return false
	}
	la, ua := listen.Addr().Unmap(), upstream.Addr()
	if la == ua {
		return true
	}
	if !la.IsUnspecified() {
		return false
	}
	if ua.IsLoopback() || ua.IsUnspecified() {
		return true
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == ua {
			return true
		}
	}
	return false
}
