// Package nodelifecycle is the node lifecycle controller: it watches node
// heartbeats, marks silent nodes, taints them, and evicts the pods they can
// no longer run.
//
//	agent ──lease.Heartbeat──► KV WAKE_NODE_HEARTBEATS ──┐ (not the log)
//	log ──► projection (nodes, pods) ────────────────────┴─► Reconcile(view, beats, node, now)
//	   ◄── node status / taints, pod deletions (Detail records the heartbeat used) ◄┘
//
// Semantics follow upstream (node-monitor-grace-period 40s):
//   - A node whose latest heartbeat (the KV bucket, its Ready condition's
//     lastHeartbeatTime or its creation, whichever is latest) is 40s old or
//     more gets Ready=Unknown (reason NodeStatusUnknown, "Kubelet stopped
//     posting node status.") and its pressure conditions Unknown too. When
//     heartbeats return, the conditions this controller set go back (Ready
//     True, reason KubeletReady).
//   - Ready Unknown taints the node node.kubernetes.io/unreachable with
//     NoSchedule and NoExecute; Ready False with node.kubernetes.io/not-ready;
//     Ready True removes them. NoExecute taints carry timeAdded.
//   - A pod bound to a node with a NoExecute taint it does not tolerate is
//     evicted (deleted) at once; one that tolerates every such taint is
//     evicted when the shortest tolerationSeconds has passed since the
//     taint's timeAdded (never without tolerationSeconds). The gateway's
//     admission adds no default tolerations, so pods without them go at once,
//     as upstream does for pods without the toleration.
//
// Heartbeats are not events: the loop reads the latest one for the node
// being reconciled and passes it to the pure Reconcile as an input map; every
// decision records that input in Event.Detail so that a replay can explain
// it. Time-driven checks: each node is reconciled again Resync (5s) after
// its last reconcile (Loop.RequeueAfter). It must not write heartbeats,
// nor touch pods on healthy nodes, nor change conditions it did not set.
package nodelifecycle
