package libct

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/wakehq/wake/agent/runtime"
)

// DefaultCapabilities is Docker's (and containerd's) default set: what a
// non-privileged container keeps of root's capabilities.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// ociSpec turns a ContainerSpec into an OCI runtime spec, starting from
// runc's own defaults (specconv.Example: mounts, masked and read-only
// paths, devices) so that wake's containers look like runc's, plus the
// seccomp profile the spec asks for (seccomp.go).
func ociSpec(s *runtime.ContainerSpec, rootfs string) (*specs.Spec, error) {
	spec := specconv.Example()
	spec.Root = &specs.Root{Path: rootfs}
	spec.Hostname = ""
	cwd := s.Cwd
	if cwd == "" {
		cwd = "/"
	}
	caps := DefaultCapabilities
	if s.Privileged {
		caps = allCapabilities()
		spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths = nil, nil
	}
	spec.Process = &specs.Process{
		Args:            s.Args,
		Env:             s.Env,
		Cwd:             cwd,
		User:            specs.User{UID: s.UID, GID: s.GID},
		NoNewPrivileges: true,
		Capabilities: &specs.LinuxCapabilities{
			Bounding: caps, Effective: caps, Permitted: caps,
		},
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1048576, Soft: 1048576}},
	}
	// A namespace left out of the list is the node's: the runtime's own.
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.CgroupNamespace}}
	if !s.Sandbox.HostPID {
		ns = append(ns, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	if !s.Sandbox.HostIPC {
		ns = append(ns, specs.LinuxNamespace{Type: specs.IPCNamespace, Path: s.Sandbox.IPCNS})
	}
	if !s.Sandbox.HostNetwork {
		ns = append(ns,
			specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: s.Sandbox.NetNS},
			specs.LinuxNamespace{Type: specs.UTSNamespace, Path: s.Sandbox.UTSNS},
		)
	}
	spec.Linux.Namespaces = ns
	for _, m := range s.Mounts {
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		spec.Mounts = append(spec.Mounts, specs.Mount{Source: m.Source, Destination: m.Destination, Type: "bind", Options: opts})
	}
	spec.Linux.CgroupsPath = cgroupPath(s.Sandbox.ID, s.ID)
	spec.Linux.Resources.Memory, spec.Linux.Resources.CPU, spec.Linux.Resources.Pids = resources(s.Limits)
	var err error
	if spec.Linux.Seccomp, err = seccompProfile(s, spec); err != nil {
		return nil, fmt.Errorf("container %s: %w", s.ID, err)
	}
	return spec, nil
}

func resources(l runtime.Resources) (*specs.LinuxMemory, *specs.LinuxCPU, *specs.LinuxPids) {
	mem := &specs.LinuxMemory{}
	if l.MemoryBytes > 0 {
		limit := l.MemoryBytes
		mem.Limit = &limit
		mem.Swap = &limit // memory+swap = memory: no swapping past the limit
	}
	cpu := &specs.LinuxCPU{}
	if l.CPUShares > 0 {
		shares := l.CPUShares
		cpu.Shares = &shares
	}
	if l.CPUQuotaUS > 0 {
		quota, period := l.CPUQuotaUS, l.CPUPeriodUS
		if period == 0 {
			period = 100000
		}
		cpu.Quota, cpu.Period = &quota, &period
	}
	var pids *specs.LinuxPids
	if l.Pids > 0 {
		n := l.Pids
		pids = &specs.LinuxPids{Limit: &n}
	}
	return mem, cpu, pids
}

func cgroupPath(sandbox, id string) string {
	return filepath.Join("/wake", sandbox, id)
}

func libcontainerConfig(s *runtime.ContainerSpec, rootfs string) (*configs.Config, error) {
	spec, err := ociSpec(s, rootfs)
	if err != nil {
		return nil, err
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName: s.ID,
		Spec:       spec,
	})
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", s.ID, err)
	}
	return cfg, nil
}

// allCapabilities is what a privileged container gets: every capability
// in the agent's own bounding set, as containerd gives (the agent may
// itself run without some, and asking for more fails the start).
func allCapabilities() []string {
	bounding := ^uint64(0)
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
				if n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil {
					bounding = n
				}
			}
		}
	}
	var out []string
	for bit, c := range []string{ // in bit order
		"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
		"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
		"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
		"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
		"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
		"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
	} {
		if bounding&(1<<bit) != 0 {
			out = append(out, "CAP_"+c)
		}
	}
	return out
}
