// Package ipam owns what Services allocate: cluster IPs from the service
// CIDR and node ports from the node port range. It says which values a
// Service holds, in which order candidates are tried, and what the record
// of one allocation looks like; the gateway does the appends (on the
// request path, as kube-apiserver allocates), and Loop is the repair
// controller that frees records whose Service is gone.
//
// One record per allocated value, each on its own subject, created with
// expectation "absent": two gateways can never both take a value, with no
// lock and no bitmap to contend on.
//
//	cluster IP 10.96.12.7  ──► networking.k8s.io/v1 IPAddress "10.96.12.7"
//	                           (the upstream kind, as Kubernetes ≥1.31 keeps it)
//	node port 30080        ──► wake.io/v1 ServiceNodePort "30080"
//	                           (kube-apiserver keeps ports in an unserved
//	                           RangeAllocation bitmap; wake keeps one record
//	                           per port instead, for the same race-freedom)
//
// Records are in the log and the projection but not in the served
// catalogue (events/kinds): they are the allocator's bookkeeping, written
// only by wake. Candidates start at a hash of namespace/name and probe
// linearly, so concurrent gateways allocating for different Services
// rarely try the same value.
//
// The package must not do I/O outside Loop's wiring; everything else is a
// pure function of its arguments.
package ipam
