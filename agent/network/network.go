package network

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultBridge is the node bridge's name.
const DefaultBridge = "wake0"

// Network is one node's pod network.
type Network struct {
	bridge string
	prefix netip.Prefix // the pod CIDR, masked
	gw     netip.Addr   // the bridge's address: the CIDR's first host
	ipam   string       // directory of address leases
}

// New prepares the pod network for cidr: it creates the bridge if absent,
// gives it the CIDR's first address and brings it up. stateDir keeps the
// address leases.
func New(bridge, cidr, stateDir string) (*Network, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR: %w", err)
	}
	p = p.Masked()
	if !p.Addr().Is4() || p.Bits() > 30 {
		return nil, fmt.Errorf("pod CIDR %s: want an IPv4 prefix of /30 or larger", cidr)
	}
	if bridge == "" {
		bridge = DefaultBridge
	}
	n := &Network{bridge: bridge, prefix: p, gw: p.Addr().Next(), ipam: filepath.Join(stateDir, "ipam")}
	if err := os.MkdirAll(n.ipam, 0o700); err != nil {
		return nil, err
	}
	if err := n.ensureBridge(); err != nil {
		return nil, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	// Pods reach beyond the node through the host: harmless when nothing
	// else is configured, and what every CNI bridge plugin does.
	os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
	return n, nil
}

// Gateway is the bridge's address, the pods' default route.
func (n *Network) Gateway() netip.Addr { return n.gw }

// CIDR is the pod CIDR.
func (n *Network) CIDR() netip.Prefix { return n.prefix }

func (n *Network) ensureBridge() error {
	l, err := netlink.LinkByName(n.bridge)
	if _, notFound := err.(netlink.LinkNotFoundError); notFound {
		la := netlink.NewLinkAttrs()
		la.Name = n.bridge
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la}); err != nil && !errors.Is(err, unix.EEXIST) {
			return err
		}
		l, err = netlink.LinkByName(n.bridge)
	}
	if err != nil {
		return err
	}
	if l.Type() != "bridge" {
		return fmt.Errorf("%s exists and is a %s, not a bridge", n.bridge, l.Type())
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.gw.AsSlice(), Mask: net.CIDRMask(n.prefix.Bits(), 32)}}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("address %s: %w", addr, err)
	}
	return netlink.LinkSetUp(l)
}

// HostVeth is the name of a pod's host-side interface: "wk" and 11 hex
// digits of the pod's id, within IFNAMSIZ.
func HostVeth(podID string) string {
	sum := sha256.Sum256([]byte(podID))
	return "wk" + hex.EncodeToString(sum[:])[:11]
}

// Attach gives the pod (by id) an address and wires its network namespace
// (a path) to the bridge. It is idempotent: attaching an attached pod
// returns its address.
func (n *Network) Attach(podID, netnsPath string) (netip.Addr, error) {
	ip, err := n.Lease(podID)
	if err != nil {
		return ip, err
	}
	host := HostVeth(podID)
	if l, err := netlink.LinkByName(host); err == nil {
		if l.Attrs().OperState == netlink.OperUp || l.Attrs().Flags&net.FlagUp != 0 {
			return ip, nil // wired by an earlier run
		}
		netlink.LinkDel(l)
	}
	ns, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return ip, fmt.Errorf("pod netns: %w", err)
	}
	defer ns.Close()
	br, err := netlink.LinkByName(n.bridge)
	if err != nil {
		return ip, fmt.Errorf("bridge %s: %w", n.bridge, err)
	}
	la := netlink.NewLinkAttrs()
	la.Name, la.MasterIndex, la.MTU = host, br.Attrs().Index, br.Attrs().MTU
	if la.MTU == 0 || la.MTU > 1500 {
		la.MTU = 1500
	}
	peer := "wp" + host[2:]
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: peer, PeerNamespace: netlink.NsFd(int(ns))}); err != nil {
		return ip, fmt.Errorf("veth %s: %w", host, err)
	}
	if err := n.configurePod(ns, peer, ip); err != nil {
		n.detachLink(podID)
		return ip, err
	}
	hl, err := netlink.LinkByName(host)
	if err == nil {
		err = netlink.LinkSetUp(hl)
	}
	if err != nil {
		n.detachLink(podID)
		return ip, fmt.Errorf("veth %s up: %w", host, err)
	}
	return ip, nil
}

// configurePod renames the pod end to eth0, gives it ip and routes via the
// bridge, through a netlink handle opened in the pod's namespace.
func (n *Network) configurePod(ns netns.NsHandle, peer string, ip netip.Addr) error {
	var h *netlink.Handle
	err := inNetns(ns, func() (err error) {
		h, err = netlink.NewHandle() // sockets of the pod's namespace
		return err
	})
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("pod veth: %w", err)
	}
	if err := h.LinkSetName(l, "eth0"); err != nil {
		return fmt.Errorf("rename to eth0: %w", err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(n.prefix.Bits(), 32)}}
	if err := h.AddrAdd(l, addr); err != nil {
		return fmt.Errorf("address %s: %w", addr, err)
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("eth0 up: %w", err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Gw: n.gw.AsSlice()}); err != nil {
		return fmt.Errorf("default route: %w", err)
	}
	return nil
}

// inNetns runs fn on a locked OS thread of its own, switched into the
// network namespace ns. netlink.NewHandleAt would switch a pooled thread
// there and back, and return it to the pool even if switching back
// failed; this thread is never switched back: the goroutine exits locked,
// so Go destroys it. Go cannot destroy the main thread, which is why the
// main goroutine keeps it (init below, as in libct).
func inNetns(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread ends with this goroutine.
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("enter pod netns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func init() { runtime.LockOSThread() } // main runs on the main thread, alone

// Detach removes the pod's veth pair and releases its address. It is
// idempotent.
func (n *Network) Detach(podID string) error {
	err := n.detachLink(podID)
	return errors.Join(err, n.Release(podID))
}

func (n *Network) detachLink(podID string) error {
	l, err := netlink.LinkByName(HostVeth(podID))
	if err != nil {
		return nil // gone already
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("delete veth %s: %w", l.Attrs().Name, err)
	}
	return nil
}

// Lease returns the pod's address, leasing a free one if it has none.
func (n *Network) Lease(podID string) (netip.Addr, error) {
	if ip, ok := n.Leased(podID); ok {
		return ip, nil
	}
	last := lastAddr(n.prefix)
	for ip := n.gw.Next(); ip.Less(last); ip = ip.Next() {
		f, err := os.OpenFile(filepath.Join(n.ipam, ip.String()), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return netip.Addr{}, err
		}
		_, err = f.WriteString(podID)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return ip, err
	}
	return netip.Addr{}, fmt.Errorf("pod CIDR %s is exhausted", n.prefix)
}

// Leased returns the address leased to the pod, if any.
func (n *Network) Leased(podID string) (netip.Addr, bool) {
	leases, _ := n.Leases()
	for ip, id := range leases {
		if id == podID {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// Leases maps every leased address to its pod's id.
func (n *Network) Leases() (map[netip.Addr]string, error) {
	ents, err := os.ReadDir(n.ipam)
	if err != nil {
		return nil, err
	}
	out := make(map[netip.Addr]string, len(ents))
	for _, e := range ents {
		ip, err := netip.ParseAddr(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(n.ipam, e.Name()))
		if err != nil {
			continue
		}
		out[ip] = strings.TrimSpace(string(b))
	}
	return out, nil
}

// Release frees the pod's address.
func (n *Network) Release(podID string) error {
	leases, err := n.Leases()
	if err != nil {
		return err
	}
	for ip, id := range leases {
		if id == podID {
			if err := os.Remove(filepath.Join(n.ipam, ip.String())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// lastAddr is the prefix's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
