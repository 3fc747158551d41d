package admission

import (
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func newHPA(change func(*autoscalingv2.HorizontalPodAutoscaler)) *autoscalingv2.HorizontalPodAutoscaler {
	h := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: om("web"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		MaxReplicas:    3,
		Metrics:        []autoscalingv2.MetricSpec{resourceMetric(corev1.ResourceCPU, autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)})},
	}}
	h.Namespace = "default"
	if change != nil {
		change(h)
	}
	return h
}

func resourceMetric(name corev1.ResourceName, t autoscalingv2.MetricTarget) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: name, Target: t}}
}

func TestHPADefaults(t *testing.T) {
	h := newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.Metrics = nil })
	Default(h)
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 1 {
		t.Errorf("minReplicas = %v, want 1", h.Spec.MinReplicas)
	}
	if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 80 {
		t.Errorf("metrics = %+v, want cpu at 80%%", h.Spec.Metrics)
	}
	// Set values stay.
	h = newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptr.To[int32](2) })
	Default(h)
	if *h.Spec.MinReplicas != 2 || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 50 {
		t.Errorf("defaults overwrote the spec: %+v", h.Spec)
	}
	wantNoErr(t, ValidateCreate(h))
}

func TestHPAValidation(t *testing.T) {
	mem := resource.MustParse("100Mi")
	tests := []struct {
		name   string
		change func(*autoscalingv2.HorizontalPodAutoscaler)
		typ    field.ErrorType
		path   string
		detail string
	}{
		{"max below 1", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MaxReplicas = 0 }, field.ErrorTypeInvalid, "spec.maxReplicas", "must be greater than 0"},
		{"max below min", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptr.To[int32](4) }, field.ErrorTypeInvalid, "spec.maxReplicas", "minReplicas"},
		{"min zero", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptr.To[int32](0) }, field.ErrorTypeInvalid, "spec.minReplicas", "greater than or equal to 1"},
		{"no kind", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Kind = "" }, field.ErrorTypeRequired, "spec.scaleTargetRef.kind", ""},
		{"no name", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Name = "" }, field.ErrorTypeRequired, "spec.scaleTargetRef.name", ""},
		{"pods metric", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{}}}
		}, field.ErrorTypeInvalid, "spec.metrics[0].type", "no custom or external metrics API"},
		{"external metric", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ExternalMetricSourceType}}
		}, field.ErrorTypeInvalid, "spec.metrics[0].type", "no custom or external metrics API"},
		{"other resource", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics[0].Resource.Name = "ephemeral-storage"
		}, field.ErrorTypeNotSupported, "spec.metrics[0].resource.name", "cpu"},
		{"zero utilization", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics[0].Resource.Target.AverageUtilization = ptr.To[int32](0)
		}, field.ErrorTypeInvalid, "spec.metrics[0].resource.target.averageUtilization", "greater than 0"},
		{"value target", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics[0].Resource.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: &mem}
		}, field.ErrorTypeNotSupported, "spec.metrics[0].resource.target.type", "AverageValue"},
		{"average value missing", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics[0].Resource.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType}
		}, field.ErrorTypeRequired, "spec.metrics[0].resource.target.averageValue", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHPA(tt.change)
			Default(h)
			wantErr(t, ValidateCreate(h), tt.typ, tt.path, tt.detail)
		})
	}
	h := newHPA(func(h *autoscalingv2.HorizontalPodAutoscaler) {
		h.Spec.Metrics = append(h.Spec.Metrics, resourceMetric(corev1.ResourceMemory, autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &mem}))
	})
	Default(h)
	wantNoErr(t, ValidateCreate(h))
}
