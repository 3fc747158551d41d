package network

import (
	"context"
	"fmt"
	"net"

	"github.com/vishvananda/netns"
)

// DialIn connects to addr over TCP from inside the network namespace
// pinned at nsPath: 127.0.0.1 there is the pod's loopback, as kubelet's
// runtimes do for port-forward. Only the socket is made in the namespace
// (on a thread of its own that dies afterwards, see inNetns); the
// connection then serves any goroutine.
func DialIn(ctx context.Context, nsPath, addr string) (net.Conn, error) {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("pod netns: %w", err)
	}
	defer ns.Close()
	var c net.Conn
	err = inNetns(ns, func() error {
		var d net.Dialer
		// A literal address: no resolver, no helper goroutines; socket
		// and connect run on this locked thread.
		conn, err := d.DialContext(ctx, "tcp", addr)
		c = conn
		return err
	})
	return c, err
}
