// Package scheduler is wake's pod scheduler: it binds pending pods to
// nodes with the Kubernetes scheduler framework's semantics, one plugin
// per concept.
//
//	projection changes ──► Snapshot (nodes, placed pods, priority classes)
//	                            │
//	pending pods, by priority ──► Schedule(snapshot, pod, seed) ──► Decision
//	                            │   filter → score → pick (seeded ties)
//	                            │   nothing fits → preemption what-if
//	                            ▼
//	        assume in the snapshot, next pod … end of round
//	                            ▼
//	events.Writer.AppendBatch(bindings, status updates, victim deletions) ──► WaitFor(last)
//
// It owns: the plugins (filters NodeReady, NodeUnschedulable, NodeName,
// TaintToleration, NodeAffinity, NodeResourcesFit, PodTopologySpread,
// InterPodAffinity; scores NodeResourcesLeastAllocated,
// NodeResourcesBalancedAllocation, NodeAffinity, TaintToleration,
// PodTopologySpread, with upstream's default weights), the pure
// Schedule, preemption (DefaultPreemption without PodDisruptionBudgets),
// and the service that writes bindings (ObjectUpdated, change binding,
// the decision in Event.Detail) and unschedulable statuses (change
// status, only when the message changes).
//
// It must not: read the clock or a random source inside Schedule (time
// and seeds are arguments), lock anything (a binding expects the pod's
// last sequence, so two schedulers never both bind a pod; the loser
// decides again from fresh state), write anything but pods, or touch pods
// for another schedulerName.
//
// Known gaps against upstream: extended resources, host ports, volumes
// and images are not considered; a non-empty namespaceSelector in pod
// affinity terms matches no namespace beyond the listed ones; preferred
// inter-pod affinity is not scored; the cluster-default topology spread
// constraints are not applied; preemption ignores PodDisruptionBudgets
// and does not recount affinity or spread without its victims. Two
// scheduler instances never bind a pod twice, but, like two upstream
// schedulers, may both place pods on the same node's last free room.
package scheduler
