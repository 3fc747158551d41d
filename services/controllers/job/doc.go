// Package job is the Job controller: it runs a Job's pods to completion as
// kube-controller-manager's job controller does (v1.37 semantics).
//
// It owns, for each Job: creating pods from the template (NonIndexed, or
// Indexed with the completion index annotation, label, hostname and
// JOB_COMPLETION_INDEX), counting their outcomes into the Job's status
// (active, ready, terminating, succeeded, failed, completedIndexes,
// startTime, completionTime), the terminal conditions as upstream sets them
// (SuccessCriteriaMet then Complete; FailureTarget then Failed, reasons
// BackoffLimitExceeded and DeadlineExceeded), suspend and resume (the
// Suspended condition), and deleting a finished Job (and its pods) once
// ttlSecondsAfterFinished has passed.
//
// Reconcile is a pure function of (view, key, now); Loop wires it to the
// log. It must not touch pods it does not control (controller ownerRef with
// the Job's uid), read the clock, or keep state between calls.
//
// Differences from upstream, deliberately:
//   - No job-tracking finalizer and no status.uncountedTerminatedPods: a
//     terminated pod is counted while it is visible, and the counts never go
//     down (succeeded and failed are the max of the status and the pods seen).
//     A terminated pod deleted by hand before the controller saw it is lost.
//   - No exponential back-off between pod failures (the reconcile result
//     cannot yet ask for a delayed requeue); a failed pod is replaced at once.
//   - podFailurePolicy, successPolicy, backoffLimitPerIndex and
//     maxFailedIndexes are not implemented; managedBy other than the default
//     makes the controller leave the Job alone.
//   - Pods are created all at once rather than in slow-start batches.
package job
