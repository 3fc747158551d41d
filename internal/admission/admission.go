package admission

import (
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/wakehq/wake/events/kinds"
)

// Default fills unset fields the way kube-apiserver's defaulting does for the
// v1 types. It is idempotent, and a no-op for kinds wake does not serve.
func Default(obj runtime.Object) {
	if isNil(obj) {
		return
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		defaultPod(o)
	case *corev1.Service:
		defaultService(o)
	case *corev1.Secret:
		defaultSecret(o)
	case *corev1.ConfigMap:
		defaultConfigMap(o)
	case *corev1.Namespace:
		defaultNamespace(o)
	case *corev1.Node:
		defaultNode(o)
	case *corev1.Endpoints:
		defaultEndpoints(o)
	case *corev1.PersistentVolumeClaim:
		defaultPVC(o)
	case *corev1.PersistentVolume:
		defaultPV(o)
	case *corev1.LimitRange:
		defaultLimitRange(o)
	case *appsv1.Deployment:
		defaultDeployment(o)
	case *appsv1.ReplicaSet:
		defaultReplicaSet(o)
	case *appsv1.StatefulSet:
		defaultStatefulSet(o)
	case *appsv1.DaemonSet:
		defaultDaemonSet(o)
	case *batchv1.Job:
		defaultJob(o)
	case *batchv1.CronJob:
		defaultCronJob(o)
	case *discoveryv1.EndpointSlice:
		defaultEndpointSlice(o)
	case *networkingv1.NetworkPolicy:
		defaultNetworkPolicy(o)
	case *schedulingv1.PriorityClass:
		defaultPriorityClass(o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		defaultHPA(o)
	}
}

// ValidateCreate checks a new object: its metadata under the kind's naming
// and scope rules, then its content.
func ValidateCreate(obj runtime.Object) field.ErrorList {
	k, m, errs := identify(obj)
	if errs != nil {
		return errs
	}
	errs = validateMetaCreate(m, k)
	return append(errs, validateContent(obj)...)
}

// ValidateUpdate checks new against old: the new object must be valid, and
// must not change what its kind makes immutable.
func ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	_, m, errs := identify(obj)
	if errs != nil {
		return errs
	}
	if reflect.TypeOf(obj) != reflect.TypeOf(old) {
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("admission: cannot update a %T with a %T", old, obj))}
	}
	oldMeta, err := meta.Accessor(old)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	errs = validateMetaUpdate(m, oldMeta)
	errs = append(errs, validateContent(obj)...)
	return append(errs, validateContentUpdate(obj, old)...)
}

// ValidateName checks a name for the kind's naming rule (for use before
// decoding, e.g. names in URLs). It returns what is wrong, or nothing.
func ValidateName(kind kinds.Kind, name string) []string {
	return nameRule(kind)(name, false)
}

// identify finds the served kind and the metadata of obj.
func identify(obj runtime.Object) (kinds.Kind, metav1Object, field.ErrorList) {
	k, ok := kindOf(obj)
	if !ok {
		return kinds.Kind{}, nil, field.ErrorList{field.InternalError(nil, fmt.Errorf("admission: %T is not a kind wake serves", obj))}
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return k, nil, field.ErrorList{field.InternalError(nil, err)}
	}
	return k, m, nil
}

// kindOf maps a typed object to its served kind by its Go type, so that an
// object whose TypeMeta is empty (as after decoding into a typed value) is
// still recognised.
func kindOf(obj runtime.Object) (kinds.Kind, bool) {
	if isNil(obj) {
		return kinds.Kind{}, false
	}
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		return kinds.Kind{}, false
	}
	for _, gvk := range gvks {
		if k, ok := kinds.ByGVK(gvk); ok {
			return k, true
		}
	}
	return kinds.Kind{}, false
}

// validateContent checks everything but metadata.
func validateContent(obj runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return validatePod(o)
	case *corev1.Service:
		return validateService(o)
	case *corev1.Secret:
		return validateSecret(o)
	case *corev1.ConfigMap:
		return validateConfigMap(o)
	case *corev1.Namespace:
		return validateNamespace(o)
	case *corev1.Node:
		return validateNode(o)
	case *corev1.Endpoints:
		return validateEndpoints(o)
	case *corev1.ServiceAccount:
		return validateServiceAccount(o)
	case *corev1.Event:
		return validateEvent(o)
	case *corev1.PersistentVolumeClaim:
		return validatePVC(o)
	case *corev1.PersistentVolume:
		return validatePV(o)
	case *corev1.LimitRange:
		return validateLimitRange(o)
	case *corev1.ResourceQuota:
		return validateResourceQuota(o)
	case *appsv1.Deployment:
		return validateDeployment(o)
	case *appsv1.ReplicaSet:
		return validateReplicaSet(o)
	case *appsv1.StatefulSet:
		return validateStatefulSet(o)
	case *appsv1.DaemonSet:
		return validateDaemonSet(o)
	case *appsv1.ControllerRevision:
		return validateControllerRevision(o)
	case *batchv1.Job:
		return validateJob(o)
	case *batchv1.CronJob:
		return validateCronJob(o)
	case *coordinationv1.Lease:
		return validateLease(o)
	case *discoveryv1.EndpointSlice:
		return validateEndpointSlice(o)
	case *networkingv1.Ingress:
		return validateIngress(o)
	case *networkingv1.NetworkPolicy:
		return validateNetworkPolicy(o)
	case *policyv1.PodDisruptionBudget:
		return validatePDB(o)
	case *schedulingv1.PriorityClass:
		return validatePriorityClass(o)
	case *autoscalingv2.HorizontalPodAutoscaler:
		return validateHPA(o)
	}
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("admission: no validation for %T", obj))}
}

// validateContentUpdate checks the kind's immutable fields; old has the same
// type as obj.
func validateContentUpdate(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return validatePodUpdate(o, old.(*corev1.Pod))
	case *corev1.Service:
		return validateServiceUpdate(o, old.(*corev1.Service))
	case *corev1.Secret:
		return validateSecretUpdate(o, old.(*corev1.Secret))
	case *corev1.ConfigMap:
		return validateConfigMapUpdate(o, old.(*corev1.ConfigMap))
	case *corev1.Node:
		return validateNodeUpdate(o, old.(*corev1.Node))
	case *corev1.PersistentVolumeClaim:
		return validatePVCUpdate(o, old.(*corev1.PersistentVolumeClaim))
	case *corev1.PersistentVolume:
		return validatePVUpdate(o, old.(*corev1.PersistentVolume))
	case *appsv1.Deployment:
		return immutable(o.Spec.Selector, old.(*appsv1.Deployment).Spec.Selector, specPath.Child("selector"))
	case *appsv1.ReplicaSet:
		return immutable(o.Spec.Selector, old.(*appsv1.ReplicaSet).Spec.Selector, specPath.Child("selector"))
	case *appsv1.DaemonSet:
		return immutable(o.Spec.Selector, old.(*appsv1.DaemonSet).Spec.Selector, specPath.Child("selector"))
	case *appsv1.StatefulSet:
		return validateStatefulSetUpdate(o, old.(*appsv1.StatefulSet))
	case *appsv1.ControllerRevision:
		return immutable(o.Data, old.(*appsv1.ControllerRevision).Data, field.NewPath("data"))
	case *batchv1.Job:
		return validateJobUpdate(o, old.(*batchv1.Job))
	case *discoveryv1.EndpointSlice:
		return immutable(o.AddressType, old.(*discoveryv1.EndpointSlice).AddressType, field.NewPath("addressType"))
	case *schedulingv1.PriorityClass:
		return validatePriorityClassUpdate(o, old.(*schedulingv1.PriorityClass))
	}
	return nil
}

var specPath = field.NewPath("spec")

func isNil(obj runtime.Object) bool {
	if obj == nil {
		return true
	}
	v := reflect.ValueOf(obj)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
