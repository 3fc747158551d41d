package agent

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/agent/runtime"
)

// The pod worker's decision, as the kubelet's computePodActions: from
// what the worker observed (the pod as the log has it, its containers'
// runtime states, probe verdicts, back-off, now) to the actions it takes.
// decide is pure; sync (pod.go) gathers the observation and executes the
// actions, in the order podActions lists them.

// podView is what the worker observed of its pod: decide's input.
type podView struct {
	// Pod is the pod as the log has it; nil when it is gone from the
	// log or no longer bound to the node.
	Pod *corev1.Pod
	// LastPod is the pod as last read: its grace period when Pod is nil.
	LastPod *corev1.Pod
	// Stopping: the pod's containers were stopped for its deletion
	// already (only its teardown is left).
	Stopping bool
	// Evicted: the eviction manager asked to evict the pod, not yet done.
	Evicted bool
	// Rejected: refused by admission, or evicted: only reported.
	Rejected bool
	// Containers are the spec containers as observed, by name.
	Containers map[string]containerView
	Now        time.Time
}

// containerView is what the worker observed of one spec container.
type containerView struct {
	// Status is the runtime's status of the current attempt; "" before
	// the first (or once its container is gone).
	Status runtime.Status
	Exit   *runtime.ExitStatus // of the current attempt once it exited
	// RetryAt: no new attempt before (restart or pull back-off).
	RetryAt time.Time
	// Unhealthy: its liveness or startup probe failed failureThreshold
	// times in a row; it is stopped within KillGrace.
	Unhealthy bool
	KillGrace time.Duration
}

// podActions is what the worker does, in this order.
type podActions struct {
	// KillPod stops every container of the pod (preStop hooks, SIGTERM,
	// Grace, SIGKILL) and removes them.
	KillPod bool
	Grace   time.Duration
	// Evict: KillPod is an eviction; record it, then report the pod
	// Failed (Report is rejected).
	Evict bool
	// Teardown removes the pod's network, volumes, sandbox and
	// directory once its containers are gone.
	Teardown bool
	// Delete deletes the pod from the log once torn down (its deletion
	// was requested and no finalizer holds it).
	Delete bool
	// Done: the worker ends once torn down.
	Done bool
	// Sandbox: the pod's namespaces, network, /etc files and volumes
	// must be there before any container is killed or started.
	Sandbox bool
	// Kill are the containers to stop (their probes failed), by name.
	Kill []containerKill
	// Start are the containers to start now, in order: the next init
	// container alone, or the app containers.
	Start []string
	// Report is the status to write: none, the pod's status, or its
	// refusal (phase Failed with the rejection's reason and message).
	Report report
	// After is when to look again even if nothing happens (0: when
	// woken).
	After time.Duration
}

// containerKill is a container to stop within Grace.
type containerKill struct {
	Name  string
	Grace time.Duration
}

type report int

const (
	reportNone report = iota
	reportStatus
	reportRejected
)

// goneGrace is the grace period of a pod that left the log without one.
const goneGrace = 2 * time.Second

// unknownRetry is how soon a container whose state is unknown (its exit
// being recorded, the runtime unreadable) is looked at again: never
// started twice meanwhile.
const unknownRetry = time.Second

// decide computes the worker's actions from what it observed, as the
// kubelet's computePodActions and the pod worker's termination rules:
//
//   - gone from the log (or unbound): stop everything within the last
//     grace period known (2s without one), tear down, end;
//   - deletion requested: stop everything within the deletion's grace
//     period (once), tear down, delete it from the log unless finalizers
//     hold it;
//   - evicted: stop everything at once, report it Failed; refused:
//     report it only;
//   - terminal (Succeeded or Failed): report only;
//   - else, with the sandbox in place: kill the containers whose probes
//     failed; start the first init container not yet succeeded (one at a
//     time, in order; none after a failure under restartPolicy Never),
//     and once all have succeeded, every app container not running that
//     its restart policy restarts (Always; OnFailure after a failure;
//     never under Never), each only once its back-off has passed.
func decide(v podView) podActions {
	switch {
	case v.Pod == nil:
		grace := goneGrace
		if v.LastPod != nil && v.LastPod.DeletionGracePeriodSeconds != nil {
			grace = time.Duration(*v.LastPod.DeletionGracePeriodSeconds) * time.Second
		}
		return podActions{KillPod: true, Grace: grace, Teardown: true, Done: true}
	case v.Pod.DeletionTimestamp != nil:
		var grace time.Duration
		if v.Pod.DeletionGracePeriodSeconds != nil {
			grace = time.Duration(*v.Pod.DeletionGracePeriodSeconds) * time.Second
		}
		return podActions{KillPod: !v.Stopping, Grace: grace, Teardown: true, Delete: len(v.Pod.Finalizers) == 0, Done: true}
	case v.Evicted && !v.Rejected:
		return podActions{KillPod: true, Evict: true, Report: reportRejected}
	case v.Rejected:
		return podActions{Report: reportRejected}
	case terminal(v.Pod):
		return podActions{Report: reportStatus}
	}
	acts := podActions{Sandbox: true, Report: reportStatus}
	later := func(at time.Time) {
		if d := at.Sub(v.Now); d > 0 && (acts.After == 0 || d < acts.After) {
			acts.After = d
		}
	}
	for _, c := range slices.Concat(v.Pod.Spec.InitContainers, v.Pod.Spec.Containers) {
		if cv := v.Containers[c.Name]; cv.Unhealthy && cv.Status == runtime.Running {
			acts.Kill = append(acts.Kill, containerKill{Name: c.Name, Grace: cv.KillGrace})
		}
	}
	for _, c := range v.Pod.Spec.InitContainers {
		cv := v.Containers[c.Name]
		switch {
		case cv.succeeded():
			continue
		case cv.Status == runtime.Running || cv.Status == runtime.Created:
		case cv.Status == runtime.Unknown: // unreadable for now: never start twice
			later(v.Now.Add(unknownRetry))
		case cv.Exit != nil && v.Pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			// the pod has failed
		case v.Now.Before(cv.RetryAt):
			later(cv.RetryAt)
		default:
			acts.Start = append(acts.Start, c.Name)
		}
		return acts // one init container at a time
	}
	for _, c := range v.Pod.Spec.Containers {
		cv := v.Containers[c.Name]
		switch {
		case cv.Status == runtime.Running || cv.Status == runtime.Created:
		case cv.Status == runtime.Unknown: // unreadable for now: never start twice
			later(v.Now.Add(unknownRetry))
		case cv.Exit != nil && !restarts(v.Pod.Spec.RestartPolicy, cv.Exit):
		case v.Now.Before(cv.RetryAt):
			later(cv.RetryAt)
		default:
			acts.Start = append(acts.Start, c.Name)
		}
	}
	return acts
}

func (cv containerView) succeeded() bool {
	return cv.Exit != nil && cv.Exit.Code == 0 && !cv.Exit.CodeUnknown
}

// restarts reports whether a container that ended with exit is restarted.
func restarts(policy corev1.RestartPolicy, exit *runtime.ExitStatus) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exit.Code != 0 || exit.CodeUnknown
	}
	return true
}
