// Package runtime defines what the agent needs from a container runtime:
// the [Runtime] interface (create, start, wait, kill, delete, inspect the
// containers of pod sandboxes) and the values it takes and returns.
//
// Implementations live beside it: libct runs real containers with runc's
// libcontainer (namespaces, cgroups, overlayfs), fake keeps everything in
// memory for the agent's own tests. runtimetest is the one test suite both
// must pass.
//
// This package must not know about Kubernetes objects, images or the
// control plane: the agent translates a pod spec into [ContainerSpec]s.
package runtime
