package admission

import (
	_ "time/tzdata" // time zones are checked against one database everywhere

	"fmt"
	"regexp"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// maxParallelismForIndexedJob bounds the parallelism of Indexed Jobs, as
// kube does.
const maxParallelismForIndexedJob = 100000

func validateJob(j *batchv1.Job) field.ErrorList {
	s := &j.Spec
	errs := validateJobSpec(s, specPath)
	selPath := specPath.Child("selector")
	if s.Selector == nil {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, selPath)...)
		if !ptr.Deref(s.ManualSelector, false) && j.UID != "" && s.Selector.MatchLabels[batchv1.ControllerUidLabel] != string(j.UID) {
			errs = append(errs, field.Invalid(selPath, s.Selector, "`selector` not auto-generated"))
		}
		// However it was made, the selector must select the Job's pods.
		if sel, err := metav1.LabelSelectorAsSelector(s.Selector); err == nil && !sel.Matches(labels.Set(s.Template.Labels)) {
			errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), s.Template.Labels, "`selector` does not match template `labels`"))
		}
	}
	return errs
}

// validateJobSpec checks what a Job and a CronJob's job template share.
func validateJobSpec(s *batchv1.JobSpec, fld *field.Path) field.ErrorList {
	errs := nonNegative32(s.Parallelism, fld.Child("parallelism"))
	errs = append(errs, nonNegative32(s.Completions, fld.Child("completions"))...)
	errs = append(errs, nonNegative64(s.ActiveDeadlineSeconds, fld.Child("activeDeadlineSeconds"))...)
	errs = append(errs, nonNegative32(s.BackoffLimit, fld.Child("backoffLimit"))...)
	errs = append(errs, nonNegative32(s.TTLSecondsAfterFinished, fld.Child("ttlSecondsAfterFinished"))...)
	indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
	if s.BackoffLimitPerIndex != nil {
		errs = append(errs, nonNegative32(s.BackoffLimitPerIndex, fld.Child("backoffLimitPerIndex"))...)
		if !indexed {
			errs = append(errs, field.Invalid(fld.Child("backoffLimitPerIndex"), *s.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
	}
	if s.MaxFailedIndexes != nil {
		errs = append(errs, nonNegative32(s.MaxFailedIndexes, fld.Child("maxFailedIndexes"))...)
		if s.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(fld.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	if m := s.CompletionMode; m != nil {
		if *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
			errs = append(errs, field.NotSupported(fld.Child("completionMode"), *m, []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
		}
		if indexed {
			if s.Completions == nil {
				errs = append(errs, field.Required(fld.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
			}
			if s.Parallelism != nil && *s.Parallelism > maxParallelismForIndexedJob {
				errs = append(errs, field.Invalid(fld.Child("parallelism"), *s.Parallelism,
					fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxParallelismForIndexedJob, batchv1.IndexedCompletion)))
			}
		}
	}
	if p := s.PodReplacementPolicy; p != nil {
		switch {
		case *p != batchv1.TerminatingOrFailed && *p != batchv1.Failed:
			errs = append(errs, field.NotSupported(fld.Child("podReplacementPolicy"), *p, []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}))
		case s.PodFailurePolicy != nil && *p != batchv1.Failed:
			errs = append(errs, field.NotSupported(fld.Child("podReplacementPolicy"), *p, []batchv1.PodReplacementPolicy{batchv1.Failed}))
		}
	}
	tmpl := fld.Child("template")
	errs = append(errs, validatePodTemplate(&s.Template, tmpl)...)
	rp := tmpl.Child("spec", "restartPolicy")
	switch s.Template.Spec.RestartPolicy {
	case corev1.RestartPolicyAlways, "":
		// Pod defaulting turns an unset restartPolicy into Always.
		errs = append(errs, field.Required(rp, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
		if s.PodFailurePolicy != nil && s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			errs = append(errs, field.Invalid(rp, s.Template.Spec.RestartPolicy, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
		}
	default:
		errs = append(errs, field.NotSupported(rp, s.Template.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	}
	return errs
}

// validateJobUpdate keeps what a running Job depends on: its selector,
// completion mode and policies, and its pod template, except that a Job
// suspended before it ever started may change where its pods go
// (node selector, node affinity, tolerations, scheduling gates) and their
// labels and annotations. An Indexed Job may change completions together
// with parallelism.
func validateJobUpdate(j, old *batchv1.Job) field.ErrorList {
	s, o := &j.Spec, &old.Spec
	errs := immutable(s.Selector, o.Selector, specPath.Child("selector"))
	errs = append(errs, validateCompletionsUpdate(s, o)...)
	errs = append(errs, immutable(s.CompletionMode, o.CompletionMode, specPath.Child("completionMode"))...)
	errs = append(errs, immutable(s.PodFailurePolicy, o.PodFailurePolicy, specPath.Child("podFailurePolicy"))...)
	errs = append(errs, immutable(s.BackoffLimitPerIndex, o.BackoffLimitPerIndex, specPath.Child("backoffLimitPerIndex"))...)
	errs = append(errs, immutable(s.ManagedBy, o.ManagedBy, specPath.Child("managedBy"))...)
	errs = append(errs, immutable(s.SuccessPolicy, o.SuccessPolicy, specPath.Child("successPolicy"))...)
	errs = append(errs, immutable(s.PodReplacementPolicy, o.PodReplacementPolicy, specPath.Child("podReplacementPolicy"))...)
	oldTemplate := &o.Template
	if ptr.Deref(o.Suspend, false) && old.Status.StartTime == nil {
		oldTemplate = o.Template.DeepCopy()
		t := &s.Template
		switch {
		case t.Spec.Affinity == nil && oldTemplate.Spec.Affinity != nil:
			oldTemplate.Spec.Affinity.NodeAffinity = nil
			if apiequality.Semantic.DeepEqual(*oldTemplate.Spec.Affinity, corev1.Affinity{}) {
				oldTemplate.Spec.Affinity = nil
			}
		case t.Spec.Affinity != nil && oldTemplate.Spec.Affinity == nil:
			oldTemplate.Spec.Affinity = &corev1.Affinity{NodeAffinity: t.Spec.Affinity.NodeAffinity}
		case t.Spec.Affinity != nil && oldTemplate.Spec.Affinity != nil:
			oldTemplate.Spec.Affinity.NodeAffinity = t.Spec.Affinity.NodeAffinity
		}
		oldTemplate.Spec.NodeSelector = t.Spec.NodeSelector
		oldTemplate.Spec.Tolerations = t.Spec.Tolerations
		oldTemplate.Spec.SchedulingGates = t.Spec.SchedulingGates
		oldTemplate.Labels = t.Labels
		oldTemplate.Annotations = t.Annotations
	}
	return append(errs, immutable(&s.Template, oldTemplate, specPath.Child("template"))...)
}

func validateCompletionsUpdate(s, o *batchv1.JobSpec) field.ErrorList {
	fld := specPath.Child("completions")
	indexed := s.CompletionMode != nil && *s.CompletionMode == batchv1.IndexedCompletion
	if !indexed {
		return immutable(s.Completions, o.Completions, fld)
	}
	if apiequality.Semantic.DeepEqual(s.Completions, o.Completions) || s.Completions == nil {
		return nil
	}
	if s.Parallelism == nil || *s.Completions != *s.Parallelism {
		return field.ErrorList{field.Invalid(fld, s.Completions, "can only be modified in tandem with spec.parallelism")}
	}
	return nil
}

func validateCronJob(c *batchv1.CronJob) field.ErrorList {
	s := &c.Spec
	var errs field.ErrorList
	if s.Schedule == "" {
		errs = append(errs, field.Required(specPath.Child("schedule"), ""))
	} else {
		errs = append(errs, validateSchedule(s.Schedule, specPath.Child("schedule"))...)
	}
	errs = append(errs, nonNegative64(s.StartingDeadlineSeconds, specPath.Child("startingDeadlineSeconds"))...)
	errs = append(errs, validateTimeZone(s.TimeZone, specPath.Child("timeZone"))...)
	switch s.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	case "":
		errs = append(errs, field.Required(specPath.Child("concurrencyPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(specPath.Child("concurrencyPolicy"), s.ConcurrencyPolicy,
			[]batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}))
	}
	jt := specPath.Child("jobTemplate")
	errs = append(errs, metav1validation.ValidateLabels(s.JobTemplate.Labels, jt.Child("metadata", "labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(s.JobTemplate.Annotations, jt.Child("metadata", "annotations"))...)
	errs = append(errs, validateJobSpec(&s.JobTemplate.Spec, jt.Child("spec"))...)
	if s.JobTemplate.Spec.Selector != nil {
		errs = append(errs, field.Invalid(jt.Child("spec", "selector"), s.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ptr.Deref(s.JobTemplate.Spec.ManualSelector, false) {
		errs = append(errs, field.NotSupported(jt.Child("spec", "manualSelector"), s.JobTemplate.Spec.ManualSelector, []string{"nil", "false"}))
	}
	errs = append(errs, nonNegative32(s.SuccessfulJobsHistoryLimit, specPath.Child("successfulJobsHistoryLimit"))...)
	return append(errs, nonNegative32(s.FailedJobsHistoryLimit, specPath.Child("failedJobsHistoryLimit"))...)
}

func validateSchedule(schedule string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if err := parseCron(schedule); err != nil {
		errs = append(errs, field.Invalid(fld, schedule, err.Error()))
	}
	if strings.Contains(schedule, "TZ") {
		errs = append(errs, field.Invalid(fld, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	}
	return errs
}

var timeZonePart = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func validateTimeZone(tz *string, fld *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(fld, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !timeZonePart.MatchString(part) {
			return field.ErrorList{field.Invalid(fld, tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	if strings.EqualFold(*tz, "Local") {
		return field.ErrorList{field.Invalid(fld, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")}
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		return field.ErrorList{field.Invalid(fld, tz, err.Error())}
	}
	return nil
}
