package admission

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podUpdatableFields is kube's list of what a Pod update may change, with
// wake's one difference: terminationGracePeriodSeconds may change freely.
const podUpdatableFields = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`," +
	"`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds`"

// validatePodUpdate allows a Pod's spec to change only in its images, its
// active deadline (set, or shortened), additions to its tolerations, the
// removal of scheduling gates, and its termination grace period. Everything
// else needs a new Pod.
func validatePodUpdate(p, old *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	adsPath := specPath.Child("activeDeadlineSeconds")
	if newADS := p.Spec.ActiveDeadlineSeconds; newADS != nil {
		if *newADS < 0 || *newADS > math.MaxInt32 {
			errs = append(errs, field.Invalid(adsPath, *newADS, validation.InclusiveRangeError(0, math.MaxInt32)))
		} else if old.Spec.ActiveDeadlineSeconds != nil && *old.Spec.ActiveDeadlineSeconds < *newADS {
			errs = append(errs, field.Invalid(adsPath, *newADS, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(adsPath, p.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}
	errs = append(errs, validateOnlyAddedTolerations(p.Spec.Tolerations, old.Spec.Tolerations, specPath.Child("tolerations"))...)

	// Put back what may change; whatever still differs may not.
	munged := p.Spec.DeepCopy()
	mungeImages(munged.Containers, old.Spec.Containers)
	mungeImages(munged.InitContainers, old.Spec.InitContainers)
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.Tolerations = old.Spec.Tolerations
	munged.TerminationGracePeriodSeconds = old.Spec.TerminationGracePeriodSeconds
	if gatesRemoved(munged.SchedulingGates, old.Spec.SchedulingGates) {
		munged.SchedulingGates = old.Spec.SchedulingGates
	}
	if !apiequality.Semantic.DeepEqual(*munged, old.Spec) {
		changed := diffFields(reflect.ValueOf(*munged), reflect.ValueOf(old.Spec), specPath.String())
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n  changed: %s",
			podUpdatableFields, strings.Join(changed, ", "))))
	}
	return errs
}

func mungeImages(cs, old []corev1.Container) {
	if len(cs) != len(old) {
		return
	}
	for i := range cs {
		cs[i].Image = old[i].Image
	}
}

// gatesRemoved says whether gates is old less some gates.
func gatesRemoved(gates, old []corev1.PodSchedulingGate) bool {
	j := 0
	for _, g := range old {
		if j < len(gates) && gates[j] == g {
			j++
		}
	}
	return j == len(gates)
}

// validateOnlyAddedTolerations lets tolerations be added, and existing
// ones change only their tolerationSeconds.
func validateOnlyAddedTolerations(ts, old []corev1.Toleration, fld *field.Path) field.ErrorList {
	for _, o := range old {
		found := false
		for _, t := range ts {
			o.TolerationSeconds = t.TolerationSeconds
			if apiequality.Semantic.DeepEqual(o, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fld, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return nil
}

// diffFields names the fields in which a and b (values of one struct type)
// differ, descending into structs and into lists of equal length, so that
// a refused update says what it changed.
func diffFields(a, b reflect.Value, at string) []string {
	if apiequality.Semantic.DeepEqual(a.Interface(), b.Interface()) {
		return nil
	}
	switch a.Kind() {
	case reflect.Struct:
		if a.Type().PkgPath() != "" && !strings.HasPrefix(a.Type().PkgPath(), "k8s.io/api/") {
			break // quantities, times: leaf values
		}
		var out []string
		for i := 0; i < a.NumField(); i++ {
			name := strings.Split(a.Type().Field(i).Tag.Get("json"), ",")[0]
			if name == "" || name == "-" || !a.Type().Field(i).IsExported() {
				continue
			}
			out = append(out, diffFields(a.Field(i), b.Field(i), at+"."+name)...)
		}
		if len(out) > 0 {
			return out
		}
	case reflect.Slice:
		if a.Len() == b.Len() {
			var out []string
			for i := 0; i < a.Len(); i++ {
				out = append(out, diffFields(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", at, i))...)
			}
			if len(out) > 0 {
				return out
			}
		}
	case reflect.Pointer:
		if !a.IsNil() && !b.IsNil() {
			return diffFields(a.Elem(), b.Elem(), at)
		}
	}
	return []string{at}
}
