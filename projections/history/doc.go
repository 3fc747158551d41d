// Package history reads the past out of the event log: every revision of
// one object with a compact diff from the one before (Revisions), which
// revision last set each field (Blame), an object or a collection as it was
// at any retained resourceVersion (ObjectAt, ListAt), the resourceVersion
// in force at a point in time (SeqAt), and a replay of the log into a fresh
// state (Replay) to check the live projection against.
//
// It reads, it never appends. Reads go to JetStream's direct get API (batch
// gets filtered by subject, and "last message per subject up to a sequence"),
// which the server answers from its per-subject index without creating a
// consumer; that is what keeps the history of an object with 10,000
// revisions, or a 3,000-object list at an old revision, under 100 ms.
//
// Time travel of a collection works backwards from the present: the objects
// of the live projection that no event after resourceVersion N touched are
// exactly as they were at N. The others come, cheapest first: from the
// projection's recent changes in memory (Rewind); from its revision index
// (projections.Projection.AtIndex), which names the event each object was
// in at N, read by sequence with every direct get sent at once
// (ObjectsAt); or, for revisions older than the index, from one
// multi-subject "last message up to N" request per 1,000 touched subjects
// (ListAt), which the server answers by walking its blocks back once per
// subject. The cost is proportional to the churn after N, not to the
// length of the log. Revisions discarded by the stream's retention limits
// are reported with ErrBeyondRetention, never guessed.
//
// Long reads (Replay, the projection's start) go through
// projections/logscan, which decodes and builds on every core ahead of the
// ordered fold.
package history
