// Package exec carries `kubectl exec` sessions between a gateway and the
// agent of the pod's node over NATS; the gateway never dials a node.
//
// Protocol (Server answers, Dial asks):
//
//	gateway ── request (JSON Request, reply = inbox G) ──► wake.node.<node>.exec
//	agent   ── hello (seq 1, Wake-Exec-Control: inbox A) ──► G, once the process runs
//	         or error (seq 1, Wake-Exec-Error: <reason>, body: message) ──► G
//	gateway ── stdin / close stdin / resize / cancel, seq 1, 2, … ──► A
//	agent   ── stdout / stderr chunks, seq 2, 3, … ──► G
//	agent   ── exit (body: the exit code) or error ──► G, last
//	both    ── "Wake-Exec-Ack: <n>" for what was consumed, and every Keepalive
//
// Every message but acks carries Wake-Exec-Seq, counted per direction; a
// gap ends the session. Data chunks are at most MaxChunk bytes and each
// side keeps at most Window messages unacknowledged, acknowledging only
// what its consumer has taken, so a slow terminal slows the process
// instead of filling memory. A side that hears nothing (not even an ack)
// for IdleTimeout ends the session; the agent then kills the process.
//
// This package must not know pods beyond their uid and container names,
// nor how a process is run: the agent passes a Runner.
package exec
