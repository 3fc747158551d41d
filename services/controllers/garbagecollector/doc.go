// Package garbagecollector is the garbage collector: it deletes objects
// whose owners are gone, and carries out the orphan and foreground deletion
// policies that the gateway records as the finalizers "orphan" and
// "foregroundDeletion" on the owner.
//
//	change ──► Graph (owner uid → dependents, derived from the view only)
//	   └──► keys: the object, its owners, and (when it is deleted) its dependents
//	            ──► Reconcile(view+graph, key, now) ──► deletes / metadata updates
//
// Semantics follow the upstream garbage collector:
//   - An owner reference is dangling when no object of that kind and name
//     (in the dependent's namespace, or cluster-scoped) has its uid. A
//     dependent with no live ("solid") owner left is deleted; one with solid
//     owners loses its dangling references.
//   - Orphan: the owner's dependents lose their reference to it, then the
//     "orphan" finalizer is removed.
//   - Foreground: every dependent is deleted (itself in foreground when it
//     has dependents of its own); the "foregroundDeletion" finalizer is
//     removed once no dependent that references the owner with
//     blockOwnerDeletion=true remains. A dependent that also has a solid
//     owner is kept and its reference made non-blocking.
//   - Owner references to kinds wake does not serve are treated as solid:
//     the collector never deletes on what it cannot see.
//
// When removing the last finalizer of an object whose deletionTimestamp is
// set, the collector writes events.ObjectDeleted itself (the reconcile
// helpers would write an update that leaves the object behind).
//
// Reconcile is pure; the Graph is an index rebuilt from the view at start
// and when the loop's watch falls behind, and updated from the view's
// changes. It must not
// touch objects that are not dependents or terminating owners.
package garbagecollector
