// Package daemonset is the DaemonSet controller: one daemon pod per
// eligible node, as kube-controller-manager's daemonset controller does.
//
// It owns, for each DaemonSet: which nodes should run its pod (node
// selector, required node affinity, taints against the pod's tolerations
// plus upstream's daemon tolerations: not-ready and unreachable NoExecute;
// disk-, memory-, pid-pressure and unschedulable NoSchedule;
// network-unavailable for host-network pods), creating those pods unbound
// with a required node affinity on metadata.name=<node> so the scheduler
// binds them, deleting extra, failed and misplaced pods (a pod stays on a
// node whose new taints it does not tolerate only if they are all
// NoSchedule), the rolling update within maxUnavailable and maxSurge (or
// OnDelete), ControllerRevisions for history (`kubectl rollout history
// ds`, rollback reuses the old revision), the controller-revision-hash and
// pod-template-generation labels, and the status counts.
//
// Reconcile is a pure function of (view, key, now); Loop wires it to the
// log. It must not bind pods to nodes (the scheduler does), nor touch pods
// it does not control.
//
// Not done: the failed-pod back-off (a failed pod is replaced at once), the
// DaemonSet's own conditions, and adopting orphaned pods or revisions.
package daemonset
