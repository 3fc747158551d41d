// Package deployment is the Deployment controller: it rolls a Deployment
// out through one ReplicaSet per pod template, with Kubernetes' semantics,
// so that kubectl rollout status|history|undo|pause|resume and kubectl
// scale behave as they do on Kubernetes.
//
//	Deployment, owned ReplicaSet, or pod-deletion change ──► key (the Deployment)
//	Reconcile(view, key, now):
//	  claim ReplicaSets (adopt matching orphans, release non-matching)
//	  deleting?          ──► status only
//	  paused / scaled?   ──► proportional scaling, history cleanup (paused)
//	  RollingUpdate      ──► new RS (name-hash) up within maxSurge, old RSes
//	                         down within maxUnavailable
//	  Recreate           ──► old RSes to 0, wait for their pods, new RS up
//	  ──► status, conditions (Progressing, Available), revision annotations
//
// Everything upstream's controller writes is written here the same way:
// the ReplicaSet name is the Deployment's name and the pod-template-hash
// (an FNV-32a hash of the template's JSON and collisionCount, encoded as
// upstream encodes it), the hash is added to the ReplicaSet's selector and
// template labels, and the annotations deployment.kubernetes.io/revision,
// revision-history, desired-replicas and max-replicas carry the history
// kubectl reads. kubectl rollout undo is client-side: it copies an old
// ReplicaSet's template back into the Deployment, and this controller then
// finds that ReplicaSet and gives it the next revision.
//
// Reconcile is a pure function of (view, key, now); one call returns at most
// one write per object (upstream's successive writes of one sync are
// merged). Loop wires it to the log. The controller must not touch pods:
// they belong to the ReplicaSet controller.
package deployment
