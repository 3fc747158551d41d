package tables

import (
	"fmt"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// hpaPrinter prints HorizontalPodAutoscalers as kube-apiserver does, for
// the resource metrics wake serves: "cpu: 30%/50%", or "<unknown>" before
// the first measurement.
var hpaPrinter = typed(
	[]metav1.TableColumnDefinition{
		colName,
		col("Reference", "string", "Reference to the resource scaled by the autoscaler."),
		col("Targets", "string", "Current and target values of the metrics the autoscaler scales by."),
		col("MinPods", "string", "Lower limit for the number of pods that can be set by the autoscaler, default 1."),
		col("MaxPods", "integer", "Upper limit for the number of pods that can be set by the autoscaler; cannot be smaller than MinReplicas."),
		col("Replicas", "integer", "Current number of replicas of pods managed by this autoscaler."),
		colAge,
	},
	func(h *autoscalingv2.HorizontalPodAutoscaler, now time.Time) ([]any, error) {
		ref := h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name
		minPods := "<unset>"
		if h.Spec.MinReplicas != nil {
			minPods = fmt.Sprint(*h.Spec.MinReplicas)
		}
		return []any{h.Name, ref, hpaTargets(h), minPods, int64(h.Spec.MaxReplicas), int64(h.Status.CurrentReplicas), age(h.CreationTimestamp, now)}, nil
	})

func hpaTargets(h *autoscalingv2.HorizontalPodAutoscaler) string {
	if len(h.Spec.Metrics) == 0 {
		return "<none>"
	}
	var parts []string
	for i, m := range h.Spec.Metrics {
		if m.Resource == nil {
			parts = append(parts, "<unknown>")
			continue
		}
		cur := "<unknown>"
		var st *autoscalingv2.MetricStatus
		if i < len(h.Status.CurrentMetrics) && h.Status.CurrentMetrics[i].Resource != nil && h.Status.CurrentMetrics[i].Resource.Name == m.Resource.Name {
			st = &h.Status.CurrentMetrics[i]
		}
		t := m.Resource.Target
		switch {
		case t.AverageUtilization != nil:
			if st != nil && st.Resource.Current.AverageUtilization != nil {
				cur = fmt.Sprintf("%d%%", *st.Resource.Current.AverageUtilization)
			}
			parts = append(parts, fmt.Sprintf("%s: %s/%d%%", m.Resource.Name, cur, *t.AverageUtilization))
		case t.AverageValue != nil:
			if st != nil && st.Resource.Current.AverageValue != nil {
				cur = st.Resource.Current.AverageValue.String()
			}
			parts = append(parts, fmt.Sprintf("%s: %s/%s", m.Resource.Name, cur, t.AverageValue.String()))
		default:
			parts = append(parts, "<unknown>")
		}
	}
	return strings.Join(parts, ", ")
}
