package devcluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// member is one network namespace on the bridge: a NATS server or a node.
type member struct {
	name  string // short: nats1, n1
	netns string // wakedev-<tag>-<name>
	veth  string // the host end, on the bridge
	ip    string
}

// ip runs the iproute2 command with args.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// setupBridge creates the host bridge with its address.
func setupBridge(bridge, cidr string) error {
	if err := ip("link", "add", bridge, "type", "bridge"); err != nil {
		return err
	}
	if err := ip("addr", "add", cidr, "dev", bridge); err != nil {
		return err
	}
	return ip("link", "set", bridge, "up")
}

// setupMember creates m's namespace and veth, plugs the host end into the
// bridge and gives the inside end (eth0) m's address.
func setupMember(m member, bridge, gateway string) error {
	peer := m.veth + "p"
	steps := [][]string{
		{"netns", "add", m.netns},
		{"link", "add", m.veth, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", m.netns},
		{"link", "set", m.veth, "master", bridge},
		{"link", "set", m.veth, "up"},
		{"-n", m.netns, "link", "set", peer, "name", "eth0"},
		{"-n", m.netns, "addr", "add", m.ip + "/24", "dev", "eth0"},
		{"-n", m.netns, "link", "set", "eth0", "up"},
		{"-n", m.netns, "link", "set", "lo", "up"},
		{"-n", m.netns, "route", "add", "default", "via", gateway},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	// Pods reach each other and the control plane through the node.
	return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
}

// netnsInode identifies a network namespace by the inode of its handle.
func netnsInode(path string) (uint64, bool) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, false
	}
	return st.Ino, true
}

// linkExists reports whether the host has a link named name.
func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// netnsExists reports whether the named network namespace is still there.
func netnsExists(name string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", name))
	return err == nil
}
