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
// This package must not validate or default objects (the writers did that
// before appending), decide anything, or write events.
package projections
