package libct

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/wakehq/wake/agent/runtime"
)

// sandboxNamespaces are the namespaces a pod's containers share.
var sandboxNamespaces = []struct{ name string }{{"net"}, {"ipc"}, {"uts"}}

// NewSandbox creates a pod's shared network, IPC and UTS namespaces with
// hostname set and loopback up, and pins each by bind-mounting it on a file
// in dir/<id>/ (what `ip netns add` does), so that they outlive any process
// and survive an agent restart. Wiring the network (veth, bridge, IP) is
// the network plugin's job, not done here yet.
func NewSandbox(dir, id, hostname string) (runtime.PodSandbox, error) {
	return makeSandbox(dir, id, hostname, HostNamespaces{})
}

// HostNamespaces are the node namespaces a pod shares (hostNetwork,
// hostIPC, hostPID); the zero value shares none.
type HostNamespaces struct{ Network, IPC, PID bool }

// NewSandboxSharing is NewSandbox for a pod that shares some of the node's
// namespaces: with Network its containers are in the node's network and
// UTS namespaces (hostname included), with IPC the node's IPC namespace,
// with PID the node's PID namespace; the rest are the pod's own.
func NewSandboxSharing(dir, id, hostname string, host HostNamespaces) (runtime.PodSandbox, error) {
	return makeSandbox(dir, id, hostname, host)
}

func makeSandbox(dir, id, hostname string, host HostNamespaces) (runtime.PodSandbox, error) {
	sb := runtime.PodSandbox{ID: id, HostNetwork: host.Network, HostIPC: host.IPC, HostPID: host.PID}
	spec := runtime.ContainerSpec{ID: "x", Sandbox: sb, Args: []string{"x"}, LogPath: "x"}
	if err := spec.Validate(); err != nil {
		return sb, err
	}
	nsDir := filepath.Join(dir, id)
	if err := os.MkdirAll(nsDir, 0o700); err != nil {
		return sb, err
	}
	var names []string
	if !host.Network {
		names = append(names, "net", "uts")
	}
	if !host.IPC {
		names = append(names, "ipc")
	}
	paths := make([]string, len(names))
	for i, name := range names {
		paths[i] = filepath.Join(nsDir, name)
		f, err := os.OpenFile(paths[i], os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o400)
		if err != nil {
			return sb, fmt.Errorf("sandbox %s: %w", id, err)
		}
		f.Close()
	}
	if len(names) > 0 {
		if err := inNewNamespaces(hostname, names, paths); err != nil {
			RemoveSandbox(dir, sb) // idempotent: unmounts what was pinned
			return sb, fmt.Errorf("sandbox %s: %w", id, err)
		}
	}
	for i, name := range names {
		switch name {
		case "net":
			sb.NetNS = paths[i]
		case "ipc":
			sb.IPCNS = paths[i]
		case "uts":
			sb.UTSNS = paths[i]
		}
	}
	return sb, nil
}

// inNewNamespaces unshares the sandbox namespaces on a locked OS thread of
// its own, prepares them and bind-mounts them on paths. The goroutine exits
// with the thread still locked, so Go destroys the thread instead of
// switching it back and reusing it: no other goroutine can ever run in the
// pod's namespaces (see thread.go for why that thread is never the main
// one).
func inNewNamespaces(hostname string, names, paths []string) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		// No UnlockOSThread: the thread ends with this goroutine.
		errc <- setupNamespaces(hostname, names, paths)
	}()
	return <-errc
}

// nsFlags are the unshare flags of the namespaces a sandbox may own.
var nsFlags = map[string]int{"net": unix.CLONE_NEWNET, "ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS}

func setupNamespaces(hostname string, names, paths []string) error {
	flags := 0
	for _, n := range names {
		flags |= nsFlags[n]
	}
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	if hostname != "" && flags&unix.CLONE_NEWUTS != 0 {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return fmt.Errorf("sethostname: %w", err)
		}
	}
	if flags&unix.CLONE_NEWNET != 0 {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	for i, name := range names {
		if err := unix.Mount("/proc/thread-self/ns/"+name, paths[i], "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pin %s namespace: %w", name, err)
		}
	}
	return nil
}

// loopbackUp brings lo up in the calling thread's network namespace,
// through a netlink handle opened there (no namespace switching).
func loopbackUp() error {
	nl, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	defer nl.Close()
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return err
	}
	if err := nl.LinkSetUp(lo); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	return nil
}

// RemoveSandbox unpins the sandbox's namespaces and removes its cgroup.
// Containers of the sandbox must have been deleted first.
func RemoveSandbox(dir string, sb runtime.PodSandbox) error {
	var errs []error
	nsDir := filepath.Join(dir, sb.ID)
	for _, ns := range sandboxNamespaces {
		p := filepath.Join(nsDir, ns.name)
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	if err := os.RemoveAll(nsDir); err != nil {
		errs = append(errs, err)
	}
	m, err := manager.New(&cgroups.Cgroup{Path: filepath.Join("/wake", sb.ID), Resources: &cgroups.Resources{}})
	if err == nil {
		err = m.Destroy()
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("pod cgroup: %w", err))
	}
	return errors.Join(errs...)
}
