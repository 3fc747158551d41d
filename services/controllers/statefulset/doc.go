// Package statefulset is the StatefulSet controller: pods with stable
// identities and storage, as kube-controller-manager's statefulset
// controller does.
//
// It owns, for each StatefulSet: the pods <set>-<ordinal> (ordinals from
// spec.ordinals.start), their identity (hostname = pod name, subdomain =
// serviceName, labels statefulset.kubernetes.io/pod-name and
// apps.kubernetes.io/pod-index), one PVC per volumeClaimTemplate and
// ordinal (<template>-<set>-<ordinal>, created, never provisioned), the pod
// management policy (OrderedReady: create ordinal N only when 0..N-1 are
// Running and Ready, scale down from the highest ordinal one pod at a time;
// Parallel: all at once), the rolling update from the highest ordinal down
// to the partition (pods below it are recreated at the current revision)
// or OnDelete, ControllerRevisions and the controller-revision-hash label,
// and the status.
//
// Reconcile is a pure function of (view, key, now); Loop wires it to the
// log. It must not touch pods it does not control, nor delete PVCs.
//
// Not done: the PVC retention policy beyond Retain (WhenDeleted=Delete only
// sets the set as the claims' owner for a garbage collector;
// WhenScaled=Delete is ignored), maxUnavailable for rolling updates (always
// one), updating the identity or storage of an existing pod that lost it,
// and adopting orphaned pods or revisions.
package statefulset
