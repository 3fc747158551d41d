// Package logscan reads long runs of the event log fast, for the folds
// that catch up with it: the projection's start (Projection.Run), replay,
// history and time travel (projections/history).
//
// It reads through ephemeral pull consumers with two pull requests kept
// outstanding (Consume), which deliver stored messages with their own
// headers, and splits a long read into chunks read in turn over two
// connections (the client parses every message's headers on its
// connection's one reading goroutine, which bounds a single connection).
// Prepared decodes and prepares events on every core ahead of the ordered
// apply:
//
//	stream WAKE ──consumer──► conn 1 ─┐            ┌─► worker: decode, prepare ─┐
//	            ──consumer──► conn 2 ─┴─► batches ─┴─► worker: decode, prepare ─┴─► apply, in order
//
// While a long read runs, the garbage collector is paced more loosely
// (GOGC up to 200, within a bound; see gc.go): a read allocates about
// 4.6 KB per event and keeps little, and at the default pacing the
// collector took a fifth of the CPU.
//
// It only reads; it knows nothing of the fold (the prepared type is the
// caller's), so projections can use it without a cycle.
package logscan
