// Package eviction is the node's eviction manager, as the kubelet's
// (pkg/kubelet/eviction): it measures the node's signals (memory
// available, the state directory's file system, process ids), turns them
// into the Node's MemoryPressure, DiskPressure and PIDPressure conditions
// (held for a transition period so that they do not flap), and evicts
// pods — over a local storage limit, with or without pressure; else one
// per period for the first signal under pressure, ranked as the kubelet
// ranks them, with the kubelet's messages. Usage is read from the pods'
// cgroups (working set, processes) and walked on disk as du(1) counts it.
//
// It decides and asks; it must not act on pods or write to the log: a pod
// is stopped and reported Evicted by the agent's worker (Worker.Evict),
// images are reclaimed by the agent (Config.ReclaimImages), and the
// conditions reach the Node through the agent's status update
// (Manager.SetNodeConditions). It knows the node's file layout only
// through Config.Files and never evicts a critical pod.
package eviction
