// Package libct is the agent's real container runtime: it implements
// runtime.Runtime with runc's libcontainer, in-process (no runc binary, no
// containerd, no shim).
//
// Per container, under the state directory:
//
//	containers/<id>/meta.json    the spec, timestamps, the exit status once seen
//	containers/<id>/rootfs       overlayfs: image layers (read-only) + upper/work
//	containers/<id>/exit         the init's wait status, as the log shim saw it
//	libcontainer/<id>/           libcontainer's own state (state.json, exec fifo)
//
// Containers get private mount and PID namespaces and join the pod
// sandbox's network, IPC and UTS namespaces by path (see NewSandbox); their
// cgroup is /wake/<sandbox>/<container> (cgroupfs driver). Security
// defaults follow Docker and runc: no-new-privileges, Docker's default
// capability set, runc's masked and read-only paths, and libcontainer's own
// guarantees that no agent file descriptor reaches the container.
//
// Stdout and stderr are pipes to a log shim (logshim.go, agent/logs): a
// process of its own that writes the CRI log format and rotates, so a
// container keeps running and logging when the agent exits; a new Runtime
// on the same state directory re-adopts it with libcontainer.Load. Only the
// runtime instance that created a container is its parent and sees its
// exit code (reported once the shim has written everything). The shim also
// holds a pidfd of the container's init and records its wait status in
// containers/<id>/exit (PIDFD_INFO_EXIT once reaped, Linux 6.15, or the
// zombie's /proc stat), so an instance that adopted the container reports
// the real code; only without such a record is it unknown
// (ExitStatus.CodeUnknown), like the kubelet's ContainerStatusUnknown.
//
// Containers get the RuntimeDefault seccomp profile (seccomp.go) unless
// their spec says Unconfined or they are privileged, when the binary is
// built with cgo and the "seccomp" tag; kubectl exec -t gets a terminal
// allocated inside the container (tty.go).
//
// Init makes the process the container's init (argument "init") or the
// log shim (logs.ShimArg); this package's own init calls it, before Go
// initializes the packages it does not need, and main or TestMain may call
// it again. The package imports
// github.com/opencontainers/runc/libcontainer/nsenter, which those
// processes need.
package libct
