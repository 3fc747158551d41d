package admission

import (
	"fmt"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/wakehq/wake/events/kinds"
)

type metav1Object = metav1.Object

var metaPath = field.NewPath("metadata")

// cronJobNameMax leaves room for the 11 characters a CronJob appends to name
// its Jobs, whose names become label values (at most 63 characters).
const cronJobNameMax = 52

// nameRule is the kind's naming rule, as kube-apiserver's registry applies it.
func nameRule(k kinds.Kind) apivalidation.ValidateNameFunc {
	switch {
	case k.Group == "" && (k.Kind == "Namespace" || k.Kind == "Service"):
		return apivalidation.NameIsDNSLabel
	case k.Group == "batch" && k.Kind == "CronJob":
		return func(name string, prefix bool) []string {
			msgs := apivalidation.NameIsDNSSubdomain(name, prefix)
			if !prefix && len(name) > cronJobNameMax {
				msgs = append(msgs, fmt.Sprintf("must be no more than %d characters", cronJobNameMax))
			}
			return msgs
		}
	}
	return apivalidation.NameIsDNSSubdomain
}

// validateMetaCreate checks the metadata of a new object: name (required,
// generateName having been resolved by the caller), namespace by scope,
// labels, annotations (256 KiB in all), owner references and finalizers.
func validateMetaCreate(m metav1.Object, k kinds.Kind) field.ErrorList {
	return apivalidation.ValidateObjectMetaAccessor(m, k.Namespaced, nameRule(k), metaPath)
}

// validateMetaUpdate checks that what identifies an object does not change.
// Unlike kube-apiserver it does not require metadata.resourceVersion (the
// gateway owns it), and it lets a deletion set deletionTimestamp and
// deletionGracePeriodSeconds, since wake's gateway deletes through updates.
func validateMetaUpdate(m, old metav1.Object) field.ErrorList {
	var errs field.ErrorList
	if old.GetDeletionTimestamp() != nil {
		errs = append(errs, apivalidation.ValidateNoNewFinalizers(m.GetFinalizers(), old.GetFinalizers(), metaPath.Child("finalizers"))...)
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(m.GetGeneration(), metaPath.Child("generation"))...)
	if m.GetGeneration() < old.GetGeneration() {
		errs = append(errs, field.Invalid(metaPath.Child("generation"), m.GetGeneration(), "must not be decremented"))
	}
	errs = append(errs, immutable(m.GetName(), old.GetName(), metaPath.Child("name"))...)
	errs = append(errs, immutable(m.GetNamespace(), old.GetNamespace(), metaPath.Child("namespace"))...)
	errs = append(errs, immutable(m.GetUID(), old.GetUID(), metaPath.Child("uid"))...)
	errs = append(errs, immutable(m.GetCreationTimestamp(), old.GetCreationTimestamp(), metaPath.Child("creationTimestamp"))...)
	if old.GetDeletionTimestamp() != nil && m.GetDeletionTimestamp() == nil {
		errs = append(errs, immutable(m.GetDeletionTimestamp(), old.GetDeletionTimestamp(), metaPath.Child("deletionTimestamp"))...)
	}
	if old.GetDeletionGracePeriodSeconds() != nil && m.GetDeletionGracePeriodSeconds() == nil {
		errs = append(errs, immutable(m.GetDeletionGracePeriodSeconds(), old.GetDeletionGracePeriodSeconds(), metaPath.Child("deletionGracePeriodSeconds"))...)
	}
	errs = append(errs, metav1validation.ValidateLabels(m.GetLabels(), metaPath.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(m.GetAnnotations(), metaPath.Child("annotations"))...)
	errs = append(errs, apivalidation.ValidateOwnerReferences(m.GetOwnerReferences(), metaPath.Child("ownerReferences"))...)
	errs = append(errs, apivalidation.ValidateFinalizers(m.GetFinalizers(), metaPath.Child("finalizers"))...)
	return errs
}

// immutable reports "field is immutable" when newVal differs semantically
// from oldVal.
func immutable(newVal, oldVal any, fld *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(newVal, oldVal, fld)
}
