// Package agent is wake's node agent: one per node, it turns the pods the
// scheduler bound to its node into real containers and reports their status
// as events (ARCHITECTURE.md, decision 8; issue 4).
//
// It owns the node and nothing else: images (agent/image), the container
// runtime (agent/runtime, with libcontainer in agent/runtime/libct and an
// in-memory fake), and — still to come — pod sandboxes' networking, probes,
// logs, the pod worker loop and status reporting. It must not write specs
// (only pod status and node events), must not keep state the log cannot
// rebuild except what the kernel holds (running containers, which it
// re-adopts from its state directory after a restart), and must never let
// its own state, credentials or the NATS data appear inside a container.
//
// See README.md for the pipeline and what exists so far.
package agent
