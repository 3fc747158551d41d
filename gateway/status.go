package gateway

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
)

// The helpers below treat every kind alike through its unstructured form,
// so that the status rules need no code per kind.

func toMap(obj runtime.Object) (map[string]any, error) {
	return runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
}

func fromMap(m map[string]any, obj runtime.Object) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(m, obj)
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
