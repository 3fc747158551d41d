package admission

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const isNotPositiveErrorMsg = "must be greater than zero"

func nonNegative32(v *int32, fld *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return apivalidation.ValidateNonnegativeField(int64(*v), fld)
}

func nonNegative64(v *int64, fld *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return apivalidation.ValidateNonnegativeField(*v, fld)
}

// validateSelector checks a workload's selector: required, well formed,
// not empty, and selecting the pods its template makes. what names the
// workload in kube's "empty selector is invalid for ..." message.
func validateSelector(sel *metav1.LabelSelector, template *corev1.PodTemplateSpec, what string, fld *field.Path) field.ErrorList {
	selPath := fld.Child("selector")
	if sel == nil {
		return field.ErrorList{field.Required(selPath, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, selPath)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(selPath, sel, "empty selector is invalid for "+what))
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return append(errs, field.Invalid(selPath, sel, "invalid label selector"))
	}
	if !selector.Empty() && !selector.Matches(labels.Set(template.Labels)) {
		errs = append(errs, field.Invalid(fld.Child("template", "metadata", "labels"), template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// validateLongRunningTemplate checks the template of a workload whose pods
// run forever: restartPolicy Always and no deadline.
func validateLongRunningTemplate(t *corev1.PodTemplateSpec, what string, fld *field.Path) field.ErrorList {
	errs := validatePodTemplate(t, fld)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(fld.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(fld.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+what+" is not Supported"))
	}
	return errs
}

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	s := &d.Spec
	errs := nonNegative32(s.Replicas, specPath.Child("replicas"))
	errs = append(errs, validateSelector(s.Selector, &s.Template, "deployment", specPath)...)
	errs = append(errs, validateLongRunningTemplate(&s.Template, "ReplicaSet", specPath.Child("template"))...)
	errs = append(errs, validateDeploymentStrategy(&s.Strategy, specPath.Child("strategy"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	errs = append(errs, nonNegative32(s.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	if p := s.ProgressDeadlineSeconds; p != nil {
		if *p <= 0 {
			errs = append(errs, field.Invalid(specPath.Child("progressDeadlineSeconds"), *p, isNotPositiveErrorMsg))
		}
		if *p <= s.MinReadySeconds {
			errs = append(errs, field.Invalid(specPath.Child("progressDeadlineSeconds"), *p, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(st *appsv1.DeploymentStrategy, fld *field.Path) field.ErrorList {
	switch st.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fld.Child("rollingUpdate"), "may not be specified when strategy `type` is '"+string(appsv1.RecreateDeploymentStrategyType)+"'")}
		}
		return nil
	case appsv1.RollingUpdateDeploymentStrategyType:
		if st.RollingUpdate == nil {
			return field.ErrorList{field.Required(fld.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		ru, ruPath := st.RollingUpdate, fld.Child("rollingUpdate")
		errs := validatePositiveIntOrPercent(ru.MaxUnavailable, ruPath.Child("maxUnavailable"))
		errs = append(errs, validatePositiveIntOrPercent(ru.MaxSurge, ruPath.Child("maxSurge"))...)
		if intOrPercentValue(ru.MaxUnavailable) == 0 && intOrPercentValue(ru.MaxSurge) == 0 {
			errs = append(errs, field.Invalid(ruPath.Child("maxUnavailable"), ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
		return append(errs, notMoreThan100Percent(ru.MaxUnavailable, ruPath.Child("maxUnavailable"))...)
	}
	return field.ErrorList{field.NotSupported(fld.Child("type"), st.Type,
		[]appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
}

func validatePositiveIntOrPercent(v *intstr.IntOrString, fld *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	var errs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(fld, v, msg))
		}
	case intstr.Int:
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(v.IntValue()), fld)...)
	default:
		errs = append(errs, field.Invalid(fld, v, "must be an integer or percentage (e.g '5%')"))
	}
	return errs
}

// intOrPercentValue is the number or percentage in v, or -1 when it is
// neither; nil counts as 0.
func intOrPercentValue(v *intstr.IntOrString) int {
	if v == nil {
		return 0
	}
	if v.Type == intstr.Int {
		return v.IntValue()
	}
	if !strings.HasSuffix(v.StrVal, "%") {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	if err != nil {
		return -1
	}
	return n
}

func notMoreThan100Percent(v *intstr.IntOrString, fld *field.Path) field.ErrorList {
	if v == nil || v.Type != intstr.String || !strings.HasSuffix(v.StrVal, "%") {
		return nil
	}
	if intOrPercentValue(v) > 100 {
		return field.ErrorList{field.Invalid(fld, v, "must not be greater than 100%")}
	}
	return nil
}

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	s := &rs.Spec
	errs := nonNegative32(s.Replicas, specPath.Child("replicas"))
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	errs = append(errs, validateSelector(s.Selector, &s.Template, "deployment", specPath)...)
	return append(errs, validateLongRunningTemplate(&s.Template, "ReplicaSet", specPath.Child("template"))...)
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	s := &ds.Spec
	errs := validateSelector(s.Selector, &s.Template, "daemonset", specPath)
	errs = append(errs, validateLongRunningTemplate(&s.Template, "DaemonSet", specPath.Child("template"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	errs = append(errs, nonNegative32(s.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	return append(errs, validateDaemonSetUpdateStrategy(&s.UpdateStrategy, specPath.Child("updateStrategy"))...)
}

func validateDaemonSetUpdateStrategy(st *appsv1.DaemonSetUpdateStrategy, fld *field.Path) field.ErrorList {
	switch st.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if st.RollingUpdate == nil {
			return field.ErrorList{field.Required(fld.Child("rollingUpdate"), "")}
		}
		ru, ruPath := st.RollingUpdate, fld.Child("rollingUpdate")
		errs := validatePositiveIntOrPercent(ru.MaxUnavailable, ruPath.Child("maxUnavailable"))
		errs = append(errs, validatePositiveIntOrPercent(ru.MaxSurge, ruPath.Child("maxSurge"))...)
		errs = append(errs, notMoreThan100Percent(ru.MaxUnavailable, ruPath.Child("maxUnavailable"))...)
		errs = append(errs, notMoreThan100Percent(ru.MaxSurge, ruPath.Child("maxSurge"))...)
		unavailable, surge := intOrPercentValue(ru.MaxUnavailable) != 0, intOrPercentValue(ru.MaxSurge) != 0
		switch {
		case unavailable && surge:
			errs = append(errs, field.Invalid(ruPath.Child("maxSurge"), ru.MaxSurge, "may not be set when maxUnavailable is non-zero"))
		case !unavailable && !surge:
			errs = append(errs, field.Required(ruPath.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return errs
	}
	return field.ErrorList{field.NotSupported(fld.Child("type"), st.Type,
		[]appsv1.DaemonSetUpdateStrategyType{appsv1.OnDeleteDaemonSetStrategyType, appsv1.RollingUpdateDaemonSetStrategyType})}
}

func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	s := &ss.Spec
	var errs field.ErrorList
	switch s.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(specPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(specPath.Child("podManagementPolicy"), s.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	usPath := specPath.Child("updateStrategy")
	switch s.UpdateStrategy.Type {
	case "":
		errs = append(errs, field.Required(usPath, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(usPath.Child("rollingUpdate"), s.UpdateStrategy.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := s.UpdateStrategy.RollingUpdate; ru != nil {
			errs = append(errs, nonNegative32(ru.Partition, usPath.Child("rollingUpdate", "partition"))...)
			if ru.MaxUnavailable != nil {
				p := usPath.Child("rollingUpdate", "maxUnavailable")
				errs = append(errs, validatePositiveIntOrPercent(ru.MaxUnavailable, p)...)
				if intOrPercentValue(ru.MaxUnavailable) == 0 {
					errs = append(errs, field.Invalid(p, ru.MaxUnavailable, "cannot be 0"))
				}
				errs = append(errs, notMoreThan100Percent(ru.MaxUnavailable, p)...)
			}
		}
	default:
		errs = append(errs, field.Invalid(usPath, s.UpdateStrategy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	errs = append(errs, nonNegative32(s.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	if p := s.PersistentVolumeClaimRetentionPolicy; p != nil {
		pp := specPath.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, validateRetentionPolicyType(p.WhenDeleted, pp.Child("whenDeleted"))...)
		errs = append(errs, validateRetentionPolicyType(p.WhenScaled, pp.Child("whenScaled"))...)
	}
	errs = append(errs, nonNegative32(s.Replicas, specPath.Child("replicas"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if s.Ordinals != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(s.Ordinals.Start), specPath.Child("ordinals", "start"))...)
	}
	if s.ServiceName != "" {
		errs = append(errs, dns1123Label(s.ServiceName, specPath.Child("serviceName"))...)
	}
	errs = append(errs, validateSelector(s.Selector, &s.Template, "statefulset", specPath)...)
	errs = append(errs, validateLongRunningTemplate(&s.Template, "StatefulSet", specPath.Child("template"))...)
	for i := range s.VolumeClaimTemplates {
		p := specPath.Child("volumeClaimTemplates").Index(i)
		t := &s.VolumeClaimTemplates[i]
		if t.Name == "" {
			errs = append(errs, field.Required(p.Child("metadata", "name"), ""))
		} else {
			errs = append(errs, dns1123Subdomain(t.Name, p.Child("metadata", "name"))...)
		}
		errs = append(errs, validatePVCSpec(&t.Spec, p.Child("spec"))...)
	}
	return errs
}

func validateRetentionPolicyType(t appsv1.PersistentVolumeClaimRetentionPolicyType, fld *field.Path) field.ErrorList {
	switch t {
	case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	}
	return field.ErrorList{field.NotSupported(fld, t, []appsv1.PersistentVolumeClaimRetentionPolicyType{
		appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType})}
}

// validateStatefulSetUpdate allows, as kube does, changes only to replicas,
// ordinals, template, updateStrategy, revisionHistoryLimit,
// persistentVolumeClaimRetentionPolicy and minReadySeconds.
func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	errs := immutable(ss.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))
	rest := ss.Spec.DeepCopy()
	rest.Replicas = old.Spec.Replicas
	rest.Ordinals = old.Spec.Ordinals
	rest.Template = old.Spec.Template
	rest.UpdateStrategy = old.Spec.UpdateStrategy
	rest.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	rest.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	rest.MinReadySeconds = old.Spec.MinReadySeconds
	rest.Selector = old.Spec.Selector
	if !apiequality.Semantic.DeepEqual(*rest, old.Spec) {
		errs = append(errs, field.Forbidden(specPath, "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return errs
}

func validateControllerRevision(cr *appsv1.ControllerRevision) field.ErrorList {
	var errs field.ErrorList
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(errs, apivalidation.ValidateNonnegativeField(cr.Revision, field.NewPath("revision"))...)
}
