package hpa

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:horizontal-pod-autoscaler"

var hpaKind = reconcile.MustKind("autoscaling", "horizontalpodautoscalers")

// targetResources are the kinds an HPA may scale, all in group apps.
var targetResources = map[string]string{
	"Deployment":  "deployments",
	"StatefulSet": "statefulsets",
	"ReplicaSet":  "replicasets",
}

// target is what an HPA reads of the object it scales.
type target struct {
	ref      events.Ref
	obj      *projections.Object
	replicas int32 // spec.replicas
	status   int32 // status.replicas
	selector labels.Selector
}

// findTarget reads the HPA's scale target from the view; an error says why
// it cannot be scaled.
func findTarget(view reconcile.View, h *autoscalingv2.HorizontalPodAutoscaler) (*target, error) {
	ref := h.Spec.ScaleTargetRef
	group, _, _ := strings.Cut(ref.APIVersion, "/")
	if !strings.Contains(ref.APIVersion, "/") {
		group = ""
	}
	resource, ok := targetResources[ref.Kind]
	if !ok || (ref.APIVersion != "" && group != "apps") {
		return nil, fmt.Errorf("wake cannot scale a %s %s: only apps/v1 Deployment, StatefulSet and ReplicaSet", ref.APIVersion, ref.Kind)
	}
	r := events.Ref{Group: "apps", Resource: resource, Namespace: h.Namespace, Name: ref.Name}
	o, ok := view.Get(r)
	if !ok {
		return nil, fmt.Errorf("%s.apps %q not found", resource, ref.Name)
	}
	var w struct {
		Spec struct {
			Replicas *int32                `json:"replicas"`
			Selector *metav1.LabelSelector `json:"selector"`
		} `json:"spec"`
		Status struct {
			Replicas int32 `json:"replicas"`
		} `json:"status"`
	}
	if err := json.Unmarshal(o.Raw, &w); err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(w.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil, fmt.Errorf("%s %q has no usable selector", ref.Kind, ref.Name)
	}
	t := &target{ref: r, obj: o, replicas: 1, status: w.Status.Replicas, selector: sel}
	if w.Spec.Replicas != nil {
		t.replicas = *w.Spec.Replicas
	}
	return t, nil
}

// Pods are the pods of the HPA's target, or nil when it has none to find.
func Pods(view reconcile.View, key events.Ref) []*corev1.Pod {
	h, _, err := getHPA(view, key)
	if h == nil || err != nil {
		return nil
	}
	t, err := findTarget(view, h)
	if err != nil {
		return nil
	}
	return reconcile.Selected[corev1.Pod](view, "", "pods", h.Namespace, t.selector)
}

func getHPA(view reconcile.View, key events.Ref) (*autoscalingv2.HorizontalPodAutoscaler, *projections.Object, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil, nil
	}
	var h autoscalingv2.HorizontalPodAutoscaler
	if err := reconcile.DecodeInto(o, &h); err != nil {
		return nil, nil, err
	}
	return &h, o, nil
}

// Reconcile decides for one HPA, from the view, its pods' usage and its
// recommendation history, at now: the target's new spec.replicas and the
// HPA's status, each only when it changed, and the history to keep.
func Reconcile(view reconcile.View, key events.Ref, usage Usage, history []Recommendation, now time.Time) ([]reconcile.Append, []Recommendation, error) {
	h, o, err := getHPA(view, key)
	if h == nil || err != nil || h.DeletionTimestamp != nil {
		return nil, nil, err
	}
	now = now.UTC().Truncate(time.Second)
	st := h.Status.DeepCopy()
	st.ObservedGeneration = &h.Generation
	conds := &st.Conditions
	var out []reconcile.Append

	t, err := findTarget(view, h)
	if err != nil {
		setCondition(conds, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", "the HPA controller was unable to get the target's current scale: "+err.Error(), now)
		a, err := writeStatus(h, o, st)
		return append(out, a), history, err
	}
	st.CurrentReplicas = t.status
	minReplicas := int32(1)
	if h.Spec.MinReplicas != nil {
		minReplicas = *h.Spec.MinReplicas
	}
	current, desired := t.replicas, t.replicas
	stabilizedDown := false
	switch {
	case current == 0 && minReplicas != 0:
		desired = 0
		setCondition(conds, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero", now)
	default:
		proposal, metrics, err := propose(h, current, reconcile.Selected[corev1.Pod](view, "", "pods", h.Namespace, t.selector), usage)
		if err != nil {
			var me *metricError
			reason, msg := "FailedGetResourceMetric", err.Error()
			if asMetricError(err, &me) {
				reason = me.reason
			}
			setCondition(conds, autoscalingv2.ScalingActive, corev1.ConditionFalse, reason, msg, now)
			// Without a recommendation, still keep the target within bounds.
			desired, _, _ = limit(current, current, minReplicas, h.Spec.MaxReplicas)
			break
		}
		st.CurrentMetrics = metrics
		setCondition(conds, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from "+metricName(h), now)
		var stabilized int32
		stabilized, history = stabilize(history, proposal, now, downscaleWindow(h))
		desired, stabilizedDown = stabilized, stabilized > proposal
		var reason, msg string
		desired, reason, msg = limit(current, desired, minReplicas, h.Spec.MaxReplicas)
		if reason != "" {
			setCondition(conds, autoscalingv2.ScalingLimited, corev1.ConditionTrue, reason, msg, now)
		} else {
			setCondition(conds, autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange", "the desired count is within the acceptable range", now)
		}
	}
	st.DesiredReplicas = desired
	if desired != current && !(current == 0 && minReplicas != 0) {
		a, err := scale(t, desired)
		if err != nil {
			return nil, history, err
		}
		out = append(out, a)
		st.LastScaleTime = &metav1.Time{Time: now}
		setCondition(conds, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", fmt.Sprintf("the HPA controller was able to update the target scale to %d", desired), now)
	} else if stabilizedDown {
		setCondition(conds, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation", now)
	} else {
		setCondition(conds, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size", now)
	}
	a, err := writeStatus(h, o, st)
	return append(out, a), history, err
}

func asMetricError(err error, target **metricError) bool {
	me, ok := err.(*metricError)
	if ok {
		*target = me
	}
	return ok
}

// propose is upstream's computeReplicasForMetrics: the highest proposal of
// the metrics; an invalid metric fails all when the valid ones would scale
// down (upstream's caution).
func propose(h *autoscalingv2.HorizontalPodAutoscaler, current int32, pods []*corev1.Pod, usage Usage) (int32, []autoscalingv2.MetricStatus, error) {
	var best int32
	var statuses []autoscalingv2.MetricStatus
	var firstErr error
	invalid := 0
	for _, m := range h.Spec.Metrics {
		if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil {
			invalid++
			firstErr = cmpErr(firstErr, &metricError{"InvalidMetricSourceType", fmt.Sprintf("wake serves no %s metrics", m.Type)})
			statuses = append(statuses, autoscalingv2.MetricStatus{})
			continue
		}
		n, st, err := resourceReplicas(current, m.Resource, pods, usage)
		if err != nil {
			invalid++
			firstErr = cmpErr(firstErr, err)
			statuses = append(statuses, autoscalingv2.MetricStatus{})
			continue
		}
		statuses = append(statuses, st)
		best = max(best, n)
	}
	if invalid == len(h.Spec.Metrics) || invalid > 0 && best < current {
		if firstErr == nil {
			firstErr = &metricError{"InvalidMetricSourceType", "no metrics to scale by"}
		}
		return 0, nil, firstErr
	}
	return best, statuses, nil
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func metricName(h *autoscalingv2.HorizontalPodAutoscaler) string {
	for _, m := range h.Spec.Metrics {
		if m.Resource != nil {
			return string(m.Resource.Name) + " resource"
		}
	}
	return "its metrics"
}

func downscaleWindow(h *autoscalingv2.HorizontalPodAutoscaler) time.Duration {
	if b := h.Spec.Behavior; b != nil && b.ScaleDown != nil && b.ScaleDown.StabilizationWindowSeconds != nil {
		return time.Duration(*b.ScaleDown.StabilizationWindowSeconds) * time.Second
	}
	return DefaultDownscaleWindow
}

// scale writes the target's spec.replicas as the scale subresource does.
func scale(t *target, replicas int32) (reconcile.Append, error) {
	k := reconcile.MustKind(t.ref.Group, t.ref.Resource)
	obj, err := reconcile.Decode(k, t.obj)
	if err != nil {
		return reconcile.Append{}, err
	}
	var m metav1.Object
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas, m = &replicas, o
	case *appsv1.StatefulSet:
		o.Spec.Replicas, m = &replicas, o
	case *appsv1.ReplicaSet:
		o.Spec.Replicas, m = &replicas, o
	default:
		return reconcile.Append{}, fmt.Errorf("hpa: cannot scale %T", obj)
	}
	m.SetGeneration(m.GetGeneration() + 1)
	return reconcile.Update(k, obj.(runtime.Object), t.obj, events.ChangeScale)
}

// writeStatus is the HPA's status update, or nothing when st is unchanged.
func writeStatus(h *autoscalingv2.HorizontalPodAutoscaler, o *projections.Object, st *autoscalingv2.HorizontalPodAutoscalerStatus) (reconcile.Append, error) {
	if apiequality.Semantic.DeepEqual(&h.Status, st) {
		return reconcile.Append{}, nil
	}
	next := h.DeepCopy()
	next.Status = *st
	return reconcile.Update(hpaKind, next, o, events.ChangeStatus)
}

func condition(conds []autoscalingv2.HorizontalPodAutoscalerCondition, typ autoscalingv2.HorizontalPodAutoscalerConditionType) *autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// setCondition sets a condition, keeping its transition time unless its
// status changes; conditions stay in upstream's order.
func setCondition(conds *[]autoscalingv2.HorizontalPodAutoscalerCondition, typ autoscalingv2.HorizontalPodAutoscalerConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) {
	if c := condition(*conds, typ); c != nil {
		if c.Status != status {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return
	}
	*conds = append(*conds, autoscalingv2.HorizontalPodAutoscalerCondition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now)})
	order := map[autoscalingv2.HorizontalPodAutoscalerConditionType]int{autoscalingv2.AbleToScale: 0, autoscalingv2.ScalingActive: 1, autoscalingv2.ScalingLimited: 2}
	for i := len(*conds) - 1; i > 0 && order[(*conds)[i].Type] < order[(*conds)[i-1].Type]; i-- {
		(*conds)[i], (*conds)[i-1] = (*conds)[i-1], (*conds)[i]
	}
}
