// Package audit makes the event log tamper-evident: a sealer hash-chains
// the stream WAKE into a second stream, WAKE_AUDIT, and Verify re-reads the
// log and names any event altered, removed, inserted or not signed by a
// trusted wake writer, and any range of events missing that retention
// does not explain.
//
// # Design
//
// Per-event "previous hash" headers would make every append wait for the
// one before it: wake's writers append concurrently, each with its own
// per-subject expectation, and a chain inside the stream would serialise
// them all. So the chain lives beside the log. The sealer (one per
// cluster; `wake up` runs it) follows the stream in order and, every Every
// events or after Idle without a seal, appends one seal to WAKE_AUDIT
// (subject wake.audit.seal, deny delete and deny purge, written with an
// expected last sequence so two sealers cannot fork the chain):
//
//	{"format":"wake.audit.seal.v2","first":F,"last":L,"prev":H(F-1),
//	 "seqs":[…],"digests":[d(F),…,d(L)],"time":T,
//	 "stream":{"first":SF,"last":SL,"firstTime":…,"retention":{"maxAge":…,"maxBytes":…,"maxMsgs":…,"maxMsgsPerSubject":…}},
//	 "chain":H(L)}
//
// d(n) is SHA-256 (first 16 bytes) over every field of event n as the
// contract defines it (sequence, subject, id, type, source, time, actor,
// request id, change, apiVersion, kind, detail, data), and
// H(L) = SHA-256(H(F-1) ‖ d(F) ‖ … ‖ d(L) ‖ anchor), the anchor being
// the "stream" object in a fixed text form. Keeping each event's digest
// lets Verify name the exact event that changed, not just the seal.
//
// The anchor (v2) is the stream as the sealer found it just before
// sealing, read after taking T: its first and last sequence, when the
// first retained event was stored, and the retention limits in force.
// v1 seals (no anchor, H without it) still verify; the sealer writes v2.
//
// # What Verify checks
//
//   - Each seal continues the chain and its digests (and anchor) hash to
//     its chain value.
//   - Every sealed event still there has its sealed digest ("altered"
//     otherwise); an event in a sealed range that was not sealed is
//     "inserted"; one that does not decode is "undecodable".
//   - Every missing event is explained, or reported with its range. A
//     sequence the stream no longer holds is missing whether it was
//     sealed, was a gap the sealer met (removed before it read it), or
//     lies after the last seal. Missing from the middle of the log
//     (at or after the stream's first sequence, or at or after the
//     anchor's first sequence of the seal that met the gap) is "removed":
//     retention only discards the oldest events. Missing from the head is
//     explained only by a limit in force between the seal before the one
//     that covered it and the first seal that found it gone (or now, if
//     none did): a max bytes, max msgs or max msgs per subject limit; or
//     a max age that can have expired, i.e. the event was stored at least
//     that long ago (plus a minute of clock skew), which the anchors bound
//     from below (stored after any seal whose anchor ends before it, and
//     after the first retained event of any seal that found it
//     retained). Anything else is "purged": a purge, a deletion, or a
//     limit set and lifted again between two seals.
//   - With a Trust (the public keys of wake's writers, each with a name
//     and optionally the subjects it may sign), every event must carry a
//     valid signature (events.VerifySignature) of a trusted key allowed its
//     subject: "unsigned", "forged" (signature does not match) or
//     "untrusted" (unknown key, or a subject it may not sign) otherwise.
//     Unsigned events before the first validly signed one are accepted and
//     counted as predating signing (a log older than signing); after it,
//     an unsigned event is a publish that skipped wake's writers. Without
//     a Trust, signatures are reported as not checked, never as failures.
//   - An operator's removal record (Remove, `wake audit remove SEQ
//     --reason R`; subject wake.audit.removal in WAKE_AUDIT: sequence,
//     subject, digest and raw digest of what it removes, reason, actor,
//     time, and the operator's nkey signature) makes Verify skip that
//     event, present or missing, and list it. With a Trust the record must
//     be signed by a key trusted for wake.audit.removal; a record whose
//     digest is not the sealed one is reported.
//
// # Removing an event
//
// The stream denies deleting and purging, and NATS refuses to lift
// either once set (nats-server's stream config update check), so no
// event can leave WAKE through the JetStream API, not even by an
// operator. A removal is therefore a record, not a deletion: the event
// stays stored, Verify stops counting it against the log, and readers
// that must not fold it can skip the sequences of Seals.Removals. Should
// an administrator delete it from the server's files, the record explains
// the gap. Only an administrator's NATS identity may publish to
// wake.audit.removal (the NATS permissions), and only a trusted key's
// signature makes Verify accept it.
//
// # What the chain proves, and what it cannot
//
// It proves, to whoever holds a copy of the latest chain value, that
// every event up to the last seal is the one sealed, that none of them
// left the log except by the retention limits recorded as in force or by
// a recorded removal, and (with a Trust) that every event since signing
// began was signed by a key of wake's writers, so a process that reached
// the stream with no credentials, or with credentials but not a wake
// writer's key, is named.
//
// It cannot:
//
//   - Cover events after the last seal (at most Every events or Idle):
//     their signatures and removals are checked, their content is not
//     yet sealed.
//   - Resist whoever can rewrite both streams: an administrator with the
//     server's files (or JetStream API rights over both streams and the
//     signing keys) can forge a consistent log, seals and all. Publish the
//     latest chain value somewhere they cannot write (a ticket, another
//     cluster, a signed timestamp) and compare; the chain then proves
//     everything up to that seal.
//   - Tell a retention limit an attacker set from one an operator set, if
//     a seal recorded it: Verify explains what such a limit dropped (the
//     seals show the limit). A limit set and lifted between two seals is
//     caught. A max bytes or max msgs limit explains any head drop while
//     it was in force, a purge included.
//   - Judge events before the first seal: the sealer trusts the log as
//     it first reads it; nor, for v1 seals, tell which limits were in
//     force then (the present ones are used).
//   - Stop a wake writer's key from signing a wrong event: a signature
//     says which writer wrote it, not that the change was right; restrict
//     keys to subjects (Signer.Subjects) to bound what each may sign.
//
// # Poison
//
// A message that is not an event (poison, which the projection
// quarantines) does not stop the sealer: its d(n) is RawDigest, over its
// stored subject, headers and data. Verify lists such a message, as
// sealed, under Report.Quarantined; once the log is signed and trusted
// signers are given it is also a problem (no wake writer wrote it) until
// an operator records its removal with `wake audit remove`.
package audit
