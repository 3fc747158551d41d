// Package replicaset is the ReplicaSet controller: it keeps the number of
// active pods a ReplicaSet controls equal to spec.replicas and reports
// replicas, fullyLabeledReplicas, readyReplicas, availableReplicas and
// terminatingReplicas in its status, as Kubernetes' controller does.
//
//	RS or pod change ──► key (the RS; a pod's owner RS; RSes whose selector
//	                     matches an orphan pod)
//	Reconcile(view, key, now) ──► adopt/release pods, create missing pods,
//	                              delete surplus pods (upstream ranking),
//	                              status when it changed
//
// Reconcile is pure: pod names and uids come from seeds (the RS uid, the
// view's sequence and an index), time comes in as now. Loop wires it to the
// log. It owns pods only through controller ownerReferences and must not
// touch pods another controller owns, nor the ReplicaSet's spec: scaling is
// the Deployment controller's (or the user's) decision.
//
// Deleting a pod bound to a node is graceful, as the API server does it: the
// pod gets a deletionTimestamp (now + terminationGracePeriodSeconds) and the
// node's agent removes it; an unbound or finished pod is deleted at once.
package replicaset
