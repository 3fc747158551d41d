// Package kubelettest plays the kubelet in tests of controllers: every pod
// (bound or not) becomes Running and Ready, and a pod being deleted
// gracefully is removed. It appends through the log like any service, so
// controllers see the same events a real agent would write.
//
// It is for tests only and must not be imported by production code.
package kubelettest

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the fake kubelet's actor name.
const Name = "system:node:kubelettest"

var podKind = reconcile.MustKind("", "pods")

// Loop returns the fake kubelet's loop over log and view. Skip, when not
// nil, leaves the pods it selects alone (never Ready).
func Loop(log *events.Log, view *projections.Projection, skip func(*corev1.Pod) bool) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view,
		Reconcile: func(v reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
			return Reconcile(v, key, now, skip)
		},
		Keys: func(ch projections.Change) []events.Ref {
			if ch.Object.Ref.Group == "" && ch.Object.Ref.Resource == "pods" && ch.Type != projections.Deleted {
				return []events.Ref{ch.Object.Ref}
			}
			return nil
		},
		ResyncKeys: reconcile.AllOf("", "pods"),
	}
}

// Reconcile makes one pod Running and Ready (Ready's lastTransitionTime is
// now), or finishes its graceful deletion.
func Reconcile(view reconcile.View, key events.Ref, now time.Time, skip func(*corev1.Pod) bool) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var pod corev1.Pod
	if err := reconcile.DecodeInto(o, &pod); err != nil {
		return nil, err
	}
	if pod.DeletionTimestamp != nil {
		if len(pod.Finalizers) > 0 {
			return nil, nil
		}
		// The containers are gone: the pod goes (reconcile.Delete would
		// leave a terminating pod to its node, which is us).
		ev := events.Event{Type: events.ObjectDeleted, Ref: o.Ref, APIVersion: "v1", Kind: "Pod", Data: o.Raw}
		return []reconcile.Append{{Event: ev, Expect: o.Seq}}, nil
	}
	if skip != nil && skip(&pod) {
		return nil, nil
	}
	a, ok, err := MarkReady(o, now)
	if err != nil || !ok {
		return nil, err
	}
	return []reconcile.Append{a}, nil
}

// MarkReady returns the status update that makes a pod Running and Ready
// at now; ok is false when it already is.
func MarkReady(o *projections.Object, now time.Time) (reconcile.Append, bool, error) {
	var pod corev1.Pod
	if err := reconcile.DecodeInto(o, &pod); err != nil {
		return reconcile.Append{}, false, err
	}
	if pod.Status.Phase == corev1.PodRunning && isReady(&pod) {
		return reconcile.Append{}, false, nil
	}
	t := metav1.NewTime(now.UTC().Truncate(time.Second))
	pod.Status.Phase = corev1.PodRunning
	pod.Status.StartTime = &t
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: t},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: t},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: t},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: t},
	}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t}},
		})
	}
	a, err := reconcile.Update(podKind, &pod, o, events.ChangeStatus)
	return a, err == nil, err
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
