package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// datapath is one node as the agent wires it, in namespaces of its own:
// a node namespace holding the bridge (10.244.0.1/24) and the table, a
// server pod (10.244.0.2) and a client pod (10.244.0.3) on the bridge.
// Direct pod-to-pod traffic crosses the bridge; ClusterIP traffic
// (10.96.0.10:80) is routed through the node and DNATed to the server.
type datapath struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error) // from the client pod
}

func newDatapath(b *testing.B) *datapath {
	needRoot(b)
	node, hn := bareNS(b)
	br := netlink.NewLinkAttrs()
	br.Name = "br0"
	if err := hn.LinkAdd(&netlink.Bridge{LinkAttrs: br}); err != nil {
		b.Fatal(err)
	}
	bl, _ := hn.LinkByName("br0")
	a, _ := netlink.ParseAddr("10.244.0.1/24")
	hn.AddrAdd(bl, a)
	hn.LinkSetUp(bl)
	pod := func(name, addr string) *testNS {
		ns, h := bareNS(b)
		la := netlink.NewLinkAttrs()
		la.Name, la.MasterIndex = name, bl.Attrs().Index
		if err := hn.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ns.ns))}); err != nil {
			b.Fatal(err)
		}
		hl, _ := hn.LinkByName(name)
		hn.LinkSetUp(hl)
		l, _ := h.LinkByName("eth0")
		a, _ := netlink.ParseAddr(addr)
		h.AddrAdd(l, a)
		h.LinkSetUp(l)
		route(b, h, "", "10.244.0.1")
		return ns
	}
	server, client := pod("vserver", "10.244.0.2/24"), pod("vclient", "10.244.0.3/24")
	node.do(func() { os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644) })

	conn, err := nftables.New(ConnOptions(nftables.WithNetNSFd(int(node.ns)))...)
	if err != nil {
		b.Fatal(err)
	}
	k := NewKernel(conn)
	k.ClusterCIDR = netip.MustParsePrefix("10.244.0.0/16")
	sp := ServicePort{Name: "default/web:80", ClusterIP: netip.MustParseAddr("10.96.0.10"), Protocol: unix.IPPROTO_TCP, Port: 80,
		Endpoints: epList(8080, "10.244.0.2")}
	if err := k.Replace(map[string][]ServicePort{"default/web": {sp}}); err != nil {
		b.Fatal(err)
	}

	var l net.Listener
	server.do(func() { l, err = net.Listen("tcp", "10.244.0.2:8080") })
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from server\n") })}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return &datapath{dial: dialerIn(b, client.ns)}
}

// dialerIn dials from a thread that stays in ns: a socket belongs to the
// namespace it was made in, whichever thread uses it later.
func dialerIn(b *testing.B, ns netns.NsHandle) func(ctx context.Context, network, addr string) (net.Conn, error) {
	type req struct {
		addr  string
		reply chan net.Conn
		err   chan error
	}
	reqs := make(chan req)
	done := make(chan struct{})
	b.Cleanup(func() { close(done) })
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(ns); err != nil {
			panic(err)
		}
		for {
			select {
			case r := <-reqs:
				c, err := net.DialTimeout("tcp", r.addr, 3*time.Second)
				if err != nil {
					r.err <- err
				} else {
					r.reply <- c
				}
			case <-done:
				return
			}
		}
	}()
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		r := req{addr, make(chan net.Conn, 1), make(chan error, 1)}
		reqs <- r
		select {
		case c := <-r.reply:
			return c, nil
		case err := <-r.err:
			return nil, err
		}
	}
}

// BenchmarkDataPath compares HTTP requests from a pod to another pod on the
// same node directly (pod IP) and through a ClusterIP, with a new
// connection per request (conntrack entry and NAT each time) and over
// kept-alive connections, from 4 concurrent clients. One thread of the
// client pod makes every connection (a socket belongs to the namespace
// it is made in), the same for both paths.
//
//	go test -run '^$' -bench DataPath -benchtime 5000x ./agent/proxy/
func BenchmarkDataPath(b *testing.B) {
	for _, keepAlive := range []bool{false, true} {
		for _, target := range []struct{ name, url string }{
			{"pod-ip", "http://10.244.0.2:8080/"},
			{"cluster-ip", "http://10.96.0.10/"},
		} {
			name := fmt.Sprintf("%s/new-conn", target.name)
			if keepAlive {
				name = fmt.Sprintf("%s/keep-alive", target.name)
			}
			b.Run(name, func(b *testing.B) {
				// Fresh namespaces each time: the server's TIME_WAIT
				// sockets of one run must not meet the next run's ports.
				d := newDatapath(b)
				tr := &http.Transport{DialContext: d.dial, DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 8}
				defer tr.CloseIdleConnections()
				client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
				if _, err := get1(client, target.url); err != nil {
					b.Fatal(err)
				}
				var mu sync.Mutex
				var lat []time.Duration
				b.SetParallelism(2) // 2 × GOMAXPROCS(2) = 4 clients
				b.ResetTimer()
				start := time.Now()
				b.RunParallel(func(pb *testing.PB) {
					var mine []time.Duration
					for pb.Next() {
						t0 := time.Now()
						if _, err := get1(client, target.url); err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
				elapsed := time.Since(start)
				slices.Sort(lat)
				if len(lat) == 0 {
					return
				}
				b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			})
		}
	}
}

func get1(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}
