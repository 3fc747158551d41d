package libct

import goruntime "runtime"

// The main goroutine keeps the main OS thread to itself, for the life of
// the process (the Go runtime runs main on the thread that ran init).
//
// libcontainer (Container.Start, via initProcess.goCreateMountSources)
// and this package (NewSandbox) switch a locked thread into a container's
// or a pod's namespaces and let the goroutine exit locked, so that Go
// destroys the thread rather than reuse it. Go cannot destroy the main
// thread: a goroutine that exits while locked to it leaves it wedged, for
// good, in whatever namespaces it was switched into. The main thread is
// the process's thread-group leader, the task /proc/self names, and a
// thread in a container's mount namespace keeps that namespace, its rootfs
// overlay and its bind mounts alive after the container is deleted. With
// the main goroutine locked here, no other goroutine ever runs on the main
// thread, so every such thread really is discarded.
func init() {
	goruntime.LockOSThread()
}
