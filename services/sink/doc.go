// Package sink delivers wake's events to CloudEvents HTTP sinks: programs
// outside wake that registered a URL and, optionally, filters (a resource,
// a namespace, an event type).
//
//	wake sink add ──► KV bucket WAKE_SINKS (one JSON registration per sink)
//	                        │ watch
//	                        ▼
//	Service ── one durable consumer "wake-sink-<name>" per sink on stream WAKE
//	            (filter subject from resource/namespace, AckExplicit,
//	             MaxAckPending 1, MaxDeliver 20, BackOff)
//	                        │ one event at a time, per sink
//	                        ▼
//	  CloudEvents HTTP binding (binary mode) ──► sink URL; 2xx ⇒ ack,
//	  anything else or a timeout ⇒ nak with an exponential delay
//
// Delivery is at least once: an event is acknowledged only after the sink
// answered 2xx, so a crash between the answer and the ack sends it again
// (the CloudEvents id, and the extension "wakeseq", let a sink drop the
// duplicate). Each sink has exactly one delivery in flight (MaxAckPending
// 1), so a sink receives events in log order (hence in order per object),
// and a sink that hangs or fails delays only itself: every sink has its
// own consumer and goroutine, and every request its own timeout. Retries
// are bounded: after MaxDeliver failed attempts an event is terminated
// and logged, and the sink moves on.
//
// The consumer's position is JetStream's, so a restart (or another wake
// process taking over the "controllers" lease) resumes where the last
// acknowledged event left off. Registrations cannot be changed in place:
// remove and add again (a new consumer, from the start or --from).
//
// It must not write to the log or decide anything about objects; it only
// reads events and forwards them.
package sink
