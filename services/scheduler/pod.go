package scheduler

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// DefaultSchedulerName is the spec.schedulerName this scheduler serves
// (an empty one too).
const DefaultSchedulerName = corev1.DefaultSchedulerName

var podKind = reconcile.MustKind("", "pods")

// Schedulable reports whether the scheduler should place p: it asks for
// the default scheduler, is not bound, is not being deleted and has not
// finished.
func Schedulable(p *corev1.Pod) bool {
	return (p.Spec.SchedulerName == "" || p.Spec.SchedulerName == DefaultSchedulerName) &&
		p.Spec.NodeName == "" && p.DeletionTimestamp == nil && !terminal(p)
}

// Binding returns the append that binds the pod cur (decoded as pod) to
// d.Node: spec.nodeName set, PodScheduled=True, nominatedNodeName cleared,
// the decision in Detail. It expects the pod unchanged since cur.
func Binding(cur *projections.Object, pod *corev1.Pod, d Decision, now time.Time) (reconcile.Append, error) {
	p := pod.DeepCopy()
	p.Spec.NodeName = d.Node
	p.Status.NominatedNodeName = ""
	setScheduled(p, corev1.ConditionTrue, "", "", now)
	a, err := reconcile.Update(podKind, p, cur, events.ChangeBinding)
	if err != nil {
		return a, err
	}
	a.Event.Detail = d.Detail()
	return a, nil
}

// Unschedulable returns the status append that records why the pod does
// not fit (PodScheduled=False, reason Unschedulable, the message) and the
// node preemption nominated, or false when the pod already says so: an
// unchanged verdict writes nothing.
func Unschedulable(cur *projections.Object, pod *corev1.Pod, d Decision, now time.Time) (reconcile.Append, bool, error) {
	p := pod.DeepCopy()
	changed := setScheduled(p, corev1.ConditionFalse, corev1.PodReasonUnschedulable, d.Message, now)
	if p.Status.NominatedNodeName != d.NominatedNode {
		p.Status.NominatedNodeName = d.NominatedNode
		changed = true
	}
	if !changed {
		return reconcile.Append{}, false, nil
	}
	a, err := reconcile.Update(podKind, p, cur, events.ChangeStatus)
	if err != nil {
		return a, false, err
	}
	a.Event.Detail = d.Detail()
	return a, true, nil
}

// setScheduled sets the PodScheduled condition and reports whether it
// changed; the transition time moves only when the status does.
func setScheduled(p *corev1.Pod, status corev1.ConditionStatus, reason, message string, now time.Time) bool {
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		if c.Type != corev1.PodScheduled {
			continue
		}
		if c.Status == status && c.Reason == reason && c.Message == message {
			return false
		}
		if c.Status != status {
			c.LastTransitionTime = ts
		}
		c.Status, c.Reason, c.Message = status, reason, message
		return true
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
		Type: corev1.PodScheduled, Status: status, Reason: reason, Message: message, LastTransitionTime: ts,
	})
	return true
}

var eventKind = reconcile.MustKind("", "events")

// FailedSchedulingEvent is the core/v1 Event upstream's scheduler records
// beside the PodScheduled=False condition: what `kubectl describe pod` shows
// under Events. Its name follows upstream's pod.<hex nanoseconds>, from now.
func FailedSchedulingEvent(pod *corev1.Pod, message string, now time.Time) (reconcile.Append, error) {
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod.Name, now.UnixNano()), Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID, ResourceVersion: pod.ResourceVersion},
		Reason: "FailedScheduling", Message: message, Type: corev1.EventTypeWarning, Count: 1,
		Source:         corev1.EventSource{Component: corev1.DefaultSchedulerName},
		FirstTimestamp: ts, LastTimestamp: ts,
		ReportingController: corev1.DefaultSchedulerName, ReportingInstance: corev1.DefaultSchedulerName,
	}
	return reconcile.Create(eventKind, ev, now, fmt.Sprintf("event/%s/%d", pod.UID, now.UnixNano()))
}
