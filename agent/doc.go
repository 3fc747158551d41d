// Package agent is wake's node agent: one per node, it turns the pods the
// scheduler bound to its node into real containers and reports their status
// as events (ARCHITECTURE.md, decision 8; issue 4).
//
// Agent.Run registers the node (Node object through the log as
// system:node:<name>, adopted on restart), heartbeats into the lease bucket
// every 10s, and runs one worker per pod bound to the node. A worker is
// level-based: woken by the pod's changes, its containers' exits, probe
// verdicts and back-off timers, it converges (sandbox and network, volumes,
// init containers in order, app containers with restart policy and
// back-off) and appends the pod's status only when it changed, expecting
// the pod's current sequence (a conflict means re-read and retry). A pod
// whose deletion was requested is stopped within its grace period, torn
// down, and deleted from the log by the agent, as the kubelet does.
//
// It owns the node and nothing else: it must not write specs (only pod
// status, pod deletion after graceful termination, and its own Node), must
// not keep state the log cannot rebuild except what the kernel holds
// (running containers, sandboxes, address leases — re-adopted from the
// state directory after a restart; restart counts and last states come back
// from the pod's status in the log), and must never let its own state, the
// NATS data or credentials appear inside a container (hostPath refuses
// them).
//
// See README.md for the pipeline and what exists so far.
package agent
