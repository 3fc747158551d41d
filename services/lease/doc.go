// Package lease owns wake's two key-value buckets of liveness, which live
// beside the event log and never in it (they change every few seconds and
// carry no history worth auditing):
//
//   - WAKE_LEASES: leader election. Run holds a lease (one key per service
//     name) and runs a function only while it holds it. The bucket's TTL
//     (6s by default) expires a lease whose holder stopped renewing; the
//     holder renews every 2s with a compare-and-set on the key's revision;
//     a standby tries Create, which succeeds only when the key is absent,
//     deleted or expired. A holder stops its function at the first failed
//     renewal, which is always before the TTL can expire (renew period plus
//     renewal timeout < TTL), so two holders never run at once as long as
//     the function returns promptly when its context ends.
//
//   - WAKE_NODE_HEARTBEATS: node heartbeats. Agents (and benchmarks with
//     fake nodes) call Heartbeat; the node lifecycle controller reads them.
//     Key = events.EncodeToken(node name), value = {"time": RFC 3339 nano}.
//
// It must not decide anything about nodes or services: it only stores and
// reads liveness. Time for heartbeats comes in as an argument.
package lease
