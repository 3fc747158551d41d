package admission

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// defaultHPAUtilization is kube-apiserver's metric for an HPA that names
// none: 80% average CPU utilization.
const defaultHPAUtilization = 80

// defaultHPA is autoscaling/v2's SetDefaults_HorizontalPodAutoscaler for
// what wake serves: minReplicas 1 and, with no metrics, CPU at 80%.
// (spec.behavior is not defaulted: the controller reads only its scale-down
// stabilization window, and uses upstream's default when it is unset.)
func defaultHPA(h *autoscalingv2.HorizontalPodAutoscaler) {
	if h.Spec.MinReplicas == nil {
		h.Spec.MinReplicas = ptr.To[int32](1)
	}
	if len(h.Spec.Metrics) == 0 {
		h.Spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name:   corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](defaultHPAUtilization)},
			},
		}}
	}
}

// validateHPA checks an HPA as upstream's ValidateHorizontalPodAutoscaler
// does, and refuses what wake cannot serve: metrics other than the cpu and
// memory resource metrics (wake has no custom or external metrics API).
func validateHPA(h *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	s := &h.Spec
	var errs field.ErrorList
	ref := specPath.Child("scaleTargetRef")
	if s.ScaleTargetRef.Kind == "" {
		errs = append(errs, field.Required(ref.Child("kind"), ""))
	}
	if s.ScaleTargetRef.Name == "" {
		errs = append(errs, field.Required(ref.Child("name"), ""))
	} else {
		for _, msg := range apivalidation.NameIsDNSSubdomain(s.ScaleTargetRef.Name, false) {
			errs = append(errs, field.Invalid(ref.Child("name"), s.ScaleTargetRef.Name, msg))
		}
	}
	minReplicas := int32(1)
	if s.MinReplicas != nil {
		minReplicas = *s.MinReplicas
		if minReplicas < 1 {
			errs = append(errs, field.Invalid(specPath.Child("minReplicas"), minReplicas, "must be greater than or equal to 1"))
		}
	}
	if s.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(specPath.Child("maxReplicas"), s.MaxReplicas, "must be greater than 0"))
	} else if s.MaxReplicas < minReplicas {
		errs = append(errs, field.Invalid(specPath.Child("maxReplicas"), s.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	mp := specPath.Child("metrics")
	for i, m := range s.Metrics {
		errs = append(errs, validateHPAMetric(m, mp.Index(i))...)
	}
	if b := s.Behavior; b != nil {
		for _, r := range []struct {
			rules *autoscalingv2.HPAScalingRules
			name  string
		}{{b.ScaleUp, "scaleUp"}, {b.ScaleDown, "scaleDown"}} {
			if r.rules != nil && r.rules.StabilizationWindowSeconds != nil {
				w := *r.rules.StabilizationWindowSeconds
				if w < 0 || w > 3600 {
					errs = append(errs, field.Invalid(specPath.Child("behavior", r.name, "stabilizationWindowSeconds"), w, "must be between 0 and 3600"))
				}
			}
		}
	}
	return errs
}

func validateHPAMetric(m autoscalingv2.MetricSpec, fld *field.Path) field.ErrorList {
	if m.Type != autoscalingv2.ResourceMetricSourceType {
		return field.ErrorList{field.Invalid(fld.Child("type"), m.Type, "wake serves only Resource metrics (cpu, memory): it has no custom or external metrics API")}
	}
	if m.Resource == nil {
		return field.ErrorList{field.Required(fld.Child("resource"), "must populate information for the given metric source")}
	}
	if m.Pods != nil || m.Object != nil || m.External != nil || m.ContainerResource != nil {
		return field.ErrorList{field.Forbidden(fld, "must populate the given metric source only")}
	}
	rp := fld.Child("resource")
	var errs field.ErrorList
	if n := m.Resource.Name; n != corev1.ResourceCPU && n != corev1.ResourceMemory {
		errs = append(errs, field.NotSupported(rp.Child("name"), n, []string{string(corev1.ResourceCPU), string(corev1.ResourceMemory)}))
	}
	t, tp := m.Resource.Target, rp.Child("target")
	switch t.Type {
	case autoscalingv2.UtilizationMetricType:
		if t.AverageUtilization == nil {
			errs = append(errs, field.Required(tp.Child("averageUtilization"), "must set averageUtilization when type is Utilization"))
		} else if *t.AverageUtilization <= 0 {
			errs = append(errs, field.Invalid(tp.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
		}
		if t.AverageValue != nil || t.Value != nil {
			errs = append(errs, field.Forbidden(tp, "must set only averageUtilization when type is Utilization"))
		}
	case autoscalingv2.AverageValueMetricType:
		if t.AverageValue == nil {
			errs = append(errs, field.Required(tp.Child("averageValue"), "must set averageValue when type is AverageValue"))
		} else if t.AverageValue.Sign() <= 0 {
			errs = append(errs, field.Invalid(tp.Child("averageValue"), t.AverageValue.String(), "must be positive"))
		}
		if t.AverageUtilization != nil || t.Value != nil {
			errs = append(errs, field.Forbidden(tp, "must set only averageValue when type is AverageValue"))
		}
	default:
		errs = append(errs, field.NotSupported(tp.Child("type"), t.Type, []string{string(autoscalingv2.UtilizationMetricType), string(autoscalingv2.AverageValueMetricType)}))
	}
	return errs
}
