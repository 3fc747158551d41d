// Package events is wake's vocabulary and its log.
//
// It owns:
//
//   - the event types and their versions (ObjectCreated, ObjectUpdated,
//     ObjectDeleted, all ".v1") and the kinds of update (Change);
//   - the envelope: CloudEvents 1.0 in binary mode over NATS headers
//     (Event.Encode, Decode, Event.CloudEvent for the CloudEvents SDK);
//   - the subject grammar: one subject per object,
//     wake.obj.<group>.<resource>.<namespace>.<name>, with every token
//     escaped by EncodeToken so that no input becomes a wildcard or an
//     extra token (Ref, ParseSubject, FilterSubject);
//   - the stream WAKE and its configuration (Config, Open);
//   - the Log: Append with an expected last sequence per object (the
//     only concurrency control in wake), Get, Last, LastSeq, Read (catch
//     up to now) and Subscribe (follow forever), and ReadSkipping and
//     SubscribeSkipping for readers that must survive any bytes in the
//     stream (poison is quarantined, never fatal: see README.md).
//   - the Writer every role writes through: it stamps an event (id,
//     source, actor, request id, time), appends it with its expectation
//     (one or a batch) and waits until the projection has applied it.
//     The projection comes in as the small interface Applied, so events
//     never imports projections;
//   - signatures: a Log with a signer (Config.Signer, Log.WithSigner)
//     signs every event it appends (ce-wakesigner, ce-wakesignature over
//     SigningDigest); VerifySignature checks one. Which keys to trust is
//     events/audit's question, not the readers'.
//
// It must not:
//
//   - interpret the objects in events (Data is opaque JSON here): no
//     projection, state, defaulting or validation of Kubernetes objects
//     (projections/, gateway/ do that);
//   - serve HTTP or know about Kubernetes API errors: callers map
//     ErrConflict, ErrNotFound, ErrUnavailable and ErrInvalid to a Status;
//   - retry on its own: a conflict means the caller re-reads and decides,
//     an unavailable log means the caller retries with the same event id.
//
// Sequences are resourceVersions: an object's is the sequence of its last
// event, the log's is LastSeq. The README documents the contract for
// integrators; subpackage natstest runs a NATS server for tests.
package events
