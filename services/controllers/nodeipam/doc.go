// Package nodeipam gives every Node a pod CIDR from the cluster CIDR, as
// kube-controller-manager's node IPAM controller does with
// --allocate-node-cidrs (range allocator): one /24 (by default) of
// 10.244.0.0/16 per node, in spec.podCIDR and spec.podCIDRs.
//
//	Node change ──► key (the node; a deleted node or a new range frees
//	                or changes candidates: every node without a range)
//	Reconcile(view, key, now) ──► spec update with the lowest free range,
//	                              or a Warning Event (CIDRNotAvailable,
//	                              PodCIDRConflict), once
//
// Ranges already on nodes (written by this controller, by an admin, or by
// an agent started with --pod-cidr) are never handed out again; a range is
// taken only if it overlaps none of them. The choice is the lowest free
// range, a pure function of the view: replaying the log makes the same
// decisions, and `wake up`'s one node gets 10.244.0.0/24. The log's
// expectations settle races: the node's append expects its sequence, and
// the loop handles one key at a time, so two nodes are never given one
// range by one leader.
//
// A node's range never changes once set (the gateway refuses it too); a
// node outside the cluster CIDR keeps its range. IPv4 only: the agent's
// pod network is IPv4.
//
// Reconcile is pure and writes only Node spec and core/v1 Events.
package nodeipam
