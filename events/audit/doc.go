// Package audit makes the event log tamper-evident: a sealer hash-chains
// the stream WAKE into a second stream, WAKE_AUDIT, and Verify re-reads the
// log and names any event altered or removed since it was sealed.
//
// # Design
//
// Per-event "previous hash" headers would make every append wait for the
// one before it: wake's writers append concurrently, each with its own
// per-subject expectation, and a chain inside the stream would serialise
// them all. So the chain lives beside the log. The sealer (one per
// cluster; `wake up` runs it) follows the stream in order and, every Every
// events or after Idle without a seal, appends one seal to WAKE_AUDIT
// (subject wake.audit.seal, deny-delete, written with an expected last
// sequence so two sealers cannot fork the chain):
//
//	{"format":"wake.audit.seal.v1","first":F,"last":L,"prev":H(F-1),
//	 "digests":[d(F),…,d(L)],"chain":H(L)}
//
// d(n) is SHA-256 (first 16 bytes) over every field of event n as the
// contract defines it (sequence, subject, id, type, source, time, actor,
// request id, change, apiVersion, kind, detail, data), and
// H(L) = SHA-256(H(F-1) ‖ d(F) ‖ … ‖ d(L)). Keeping each event's digest
// lets Verify name the exact event that changed, not just the seal.
//
// A message that is not an event (poison, which the projection
// quarantines) does not stop the sealer: its d(n) is RawDigest, over its
// stored subject, headers and data, and Verify lists such a message, still
// as sealed, under Quarantined rather than as a problem.
//
// Verify checks that each seal continues the previous one and that every
// sealed event is still there with the same digest: an event rewritten in
// place, removed (deleted or purged), or no longer decodable is named by
// its sequence. Events discarded at the head by the retention limits are
// reported as such, not as tampering.
//
// # Limits
//
// A seal proves the log has not changed since it was sealed; events newer
// than the last seal (at most Every events or Idle seconds) are not yet
// covered. Someone able to rewrite both streams can forge a consistent
// pair: publish the latest chain hash somewhere they cannot write (a
// ticket, another cluster, a signed timestamp) to close that gap. The
// sealer trusts the stream as it first reads it.
package audit
