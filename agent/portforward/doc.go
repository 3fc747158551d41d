// Package portforward carries `kubectl port-forward` connections between a
// gateway and the agent of the pod's node over NATS; the gateway never
// dials a node, and the agent dials the pod's port from inside the pod's
// network namespace, as the kubelet's runtime does, so a server that
// listens on 127.0.0.1 in the pod is reachable.
//
// One forwarded connection (one data stream of kubectl's SPDY connection)
// is one session. Sessions use agent/exec's framing: the same sequence
// numbers, acks, window of Window messages and keepalives, so a slow
// client slows the pod's server and a silent node ends the session after
// IdleTimeout.
//
//	gateway ── request (JSON Request, reply = inbox G) ──► wake.node.<node>.portforward
//	agent   ── dials 127.0.0.1:<port> in the pod's network namespace
//	agent   ── hello (seq 1) ──► G, once connected; or error (seq 1) ──► G
//	both    ── data chunks, then close (no more data this way: a half-close)
//	gateway ── cancel ──► agent, when the client went away
//
// A session ends when both directions have closed, or at once on a cancel
// or a broken session. A reset from the pod's server ends its direction
// like a close: the application chose to drop the connection, and the
// client's other forwarded connections must not suffer for it (kubectl
// gives up the whole port-forward when a connection reports an error).
//
// This package must not know pods beyond their uid, nor how to enter a
// namespace: the agent passes a Dialer.
package portforward
