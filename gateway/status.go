package gateway

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

func typesUID(s string) types.UID { return types.UID(s) }

// The helpers below treat every kind alike through its unstructured form,
// so that the status rules need no code per kind.

func toMap(obj runtime.Object) (map[string]any, error) {
	return runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
}

func fromMap(m map[string]any, obj runtime.Object) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(m, obj)
}

// resetStatus clears the status of a new object: clients do not set status on
// create. A new pod starts Pending and a new namespace Active, as upstream.
func resetStatus(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass(&o.Spec)}
		return
	case *corev1.Namespace:
		o.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
		return
	case *corev1.Node:
		// A node's agent registers it with its capacity and addresses.
		return
	}
	m, err := toMap(obj)
	if err != nil {
		return
	}
	delete(m, "status")
	fresh := obj.DeepCopyObject()
	if fromMap(m, fresh) == nil {
		reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(fresh).Elem())
	}
}

// copyStatus keeps cur's status in next: the main resource cannot change it.
func copyStatus(cur, next runtime.Object) error { return setWithStatus(next, next, cur) }

// keepAllButStatus makes next equal to cur except for next's status: the
// status subresource changes nothing else.
func keepAllButStatus(cur, next runtime.Object) error { return setWithStatus(next, cur, next) }

// setWithStatus sets into to base with the status of statusFrom.
func setWithStatus(into, base, statusFrom runtime.Object) error {
	bm, err := toMap(base)
	if err != nil {
		return err
	}
	sm, err := toMap(statusFrom)
	if err != nil {
		return err
	}
	if st, ok := sm["status"]; ok {
		bm["status"] = st
	} else {
		delete(bm, "status")
	}
	return replaceFromMap(bm, into)
}

func replaceFromMap(m map[string]any, obj runtime.Object) error {
	fresh := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
	if err := fromMap(m, fresh); err != nil {
		return err
	}
	reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(fresh).Elem())
	return nil
}

// specDiffers reports whether anything but metadata and status differs.
func specDiffers(cur, next runtime.Object) (bool, error) {
	cm, err := toMap(cur)
	if err != nil {
		return false, err
	}
	nm, err := toMap(next)
	if err != nil {
		return false, err
	}
	for _, m := range []map[string]any{cm, nm} {
		delete(m, "metadata")
		delete(m, "status")
		delete(m, "apiVersion")
		delete(m, "kind")
	}
	return !reflect.DeepEqual(cm, nm), nil
}

// qosClass is the pod's quality of service class, as the kubelet computes it.
func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	anySet, guaranteed := false, true
	for _, c := range containers {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if hasReq || hasLim {
				anySet = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return corev1.PodQOSBestEffort
	case guaranteed:
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}
