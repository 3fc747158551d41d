// Package logs owns container logs on a node: the file format, the writer
// that produces it, and the NATS protocol that serves it to gateways.
//
// Files (one directory per container under pods/<uid>/logs/<name>/):
//
//	<attempt>.log        the Kubernetes CRI log format, one record a line:
//	                     <RFC3339Nano> <stdout|stderr> <F|P> <content>
//	<attempt>.log.1      the one rotated file (Shim rotates at MaxBytes)
//	<attempt>.log.lock   flock'ed by the writer for as long as it lives
//
// Shim is the writer: a small process of its own (libct starts it as
// `<binary> log-shim`), so containers keep logging while the agent is down.
// Given a pidfd of the container's init, it also records the init's wait
// status once the output has ended (exit.go), so an agent that was down
// when the container exited still learns its exit code.
//
// Protocol (Server answers, Client asks; the gateway never dials a node):
//
//	gateway ── request (JSON Request, reply = inbox) ──► wake.node.<node>.logs
//	agent   ── hello   (seq 1, Wake-Log-Control: <ctl subject>) ──► inbox
//	agent   ── data    (seq n, ≤ 64 KiB, raw log bytes) ──► inbox
//	gateway ── "ack <n>" every few chunks and every Keepalive, "cancel" ──► ctl
//	agent   ── end     (Wake-Log-End, or Wake-Log-Error: <reason> + message) ──► inbox
//
// The agent keeps at most Window chunks unacknowledged and stops when the
// gateway cancels or stays silent for IdleTimeout; in follow mode it sends
// an empty chunk every Keepalive so the gateway notices a dead node too.
//
// This package must not know pods beyond their uid and container names: the
// gateway resolves and validates names from the projection.
package logs
