// Package libct is the agent's real container runtime: it implements
// runtime.Runtime with runc's libcontainer, in-process (no runc binary, no
// containerd, no shim).
//
// Per container, under the state directory:
//
//	containers/<id>/meta.json    the spec, timestamps, the exit status once seen
//	containers/<id>/rootfs       overlayfs: image layers (read-only) + upper/work
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
// exit code (reported once the shim has written everything); after a
// restart the exit is observed by polling and the code is reported as
// unknown (ExitStatus.CodeUnknown), like the kubelet's
// ContainerStatusUnknown. A shim that also waits for the container would
// remove that limit.
//
// The process that uses this package must call Init first thing (it
// becomes the container's init with the "init" argument, the log shim with
// logs.ShimArg), and import
// github.com/opencontainers/runc/libcontainer/nsenter, which this package
// does.
package libct
