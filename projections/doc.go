// Package projections folds the event log into the current state of every
// object, and serves that state to readers.
//
// The fold (State.Apply) is pure: the same events in the same order give
// byte-identical state on every machine, so replay, audit and time travel can
// trust it. Time, randomness and I/O enter only through events. Around the
// fold, Projection adds what readers need: catch-up from a snapshot plus the
// log, WaitFor(seq) so a writer reads its own write (moving over sequences
// the log no longer holds, gaps.go, so no wait is endless), and one watch
// fan-out shared by every watcher.
//
// # Quarantine (ARCHITECTURE.md, decision 11)
//
// Whatever bytes reach the stream, the fold goes on. A message it cannot
// apply is quarantined: it does not decode (no headers, a wrong
// specversion, a change on a create, truncated JSON, an unknown type, a
// subject that names no object…), or it decodes but cannot be the next
// event of its object (data that is not an object, names another object
// or another kind than its header, a kind that is not its subject's
// resource's, an update or a delete of an object that does not exist). A
// create of an object that exists replaces it, as before: a writer's
// expectation (0) makes that impossible in a real log.
//
//   - The state folds as if the message were absent, except that its
//     sequence is applied: Seq moves past it, so WaitFor never hangs on it.
//   - The state records it (State.Quarantined: sequence, stored subject,
//     reason, by sequence). The record is part of the fold, so a replay
//     of the same log gives the same record; Hash covers the objects only,
//     so a state restored from a v1 snapshot (no record) still compares.
//   - Snapshots keep the record: format wake.snapshot.v2 adds it after the
//     objects; a state without quarantined messages is still written as
//     v1, and v1 snapshots load (with an empty record).
//   - Projection.QuarantineCount counts what this process quarantined
//     since it started (for the metric
//     wake_projection_quarantined_events_total, once there is a /metrics);
//     each one is logged once at Warn.
//   - Run tells its Log which messages it quarantined
//     (events.Log.SetQuarantined), so that Append and Last pass over them
//     and the object can be written again.
//   - One Kubernetes Warning Event (reason EventQuarantined) per message is
//     written by services/controllers/quarantine, run by the controllers'
//     leader; `wake replay --verify` and `wake audit verify` list the
//     record (neither fails because of it).
//
// This package must not validate or default objects (the writers did that
// before appending), decide anything, or write events.
package projections
