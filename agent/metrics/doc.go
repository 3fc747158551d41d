// Package metrics is the resource metrics protocol between a node's agent
// and the gateway: what `kubectl top` reads through metrics.k8s.io, as
// metrics-server scrapes each kubelet. Metrics are ephemeral: they never
// reach the event log.
//
//	gateway ── request {"v":1,"node":true,"pods":[uid,…]} ──► wake.node.<node>.metrics
//	agent   ── {"node":{…},"pods":[{uid, usage, containers:[…]}]} or {"error":{…}}
//
// Every usage is a rate over the agent's last two samples (taken every
// metrics resolution): CPU in nanocores over the window between them,
// memory the latest working set, with that window and the latest sample's
// time. A pod or container with fewer than two samples is left out, as
// metrics-server leaves it out.
//
// This package must not know pods beyond their uid and container names:
// the gateway selects pods and nodes from the projection and asks each node
// only about its own.
package metrics
