package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/projections"
)

// replicasOf reads spec.replicas, status.replicas and the selector of a
// scalable object through its unstructured form: every scalable kind keeps
// them at the same paths.
func replicasOf(obj runtime.Object) (spec, status int32, selector string, err error) {
	var s struct {
		Spec struct {
			Replicas *int32                `json:"replicas"`
			Selector *metav1.LabelSelector `json:"selector"`
		} `json:"spec"`
		Status struct {
			Replicas int32 `json:"replicas"`
		} `json:"status"`
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return 0, 0, "", err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return 0, 0, "", err
	}
	spec = 1
	if s.Spec.Replicas != nil {
		spec = *s.Spec.Replicas
	}
	if s.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err != nil {
			return 0, 0, "", err
		}
		selector = sel.String()
	}
	return spec, s.Status.Replicas, selector, nil
}

func (s *Server) scaleOf(t target, o *projections.Object) (*autoscalingv1.Scale, error) {
	obj, err := decodeRaw(o.Raw, t.kind)
	if err != nil {
		return nil, err
	}
	spec, status, selector, err := replicasOf(obj)
	if err != nil {
		return nil, err
	}
	m := accessor(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{
			Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}, nil
}

// withReplicas returns obj with spec.replicas set.
func withReplicas(obj runtime.Object, replicas int32) (runtime.Object, error) {
	if replicas < 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("spec.replicas must be at least 0, not %d", replicas))
	}
	m, err := toMap(obj)
	if err != nil {
		return nil, err
	}
	spec, _ := m["spec"].(map[string]any)
	if spec == nil {
		spec = map[string]any{}
	}
	spec["replicas"] = int64(replicas)
	m["spec"] = spec
	next := obj.DeepCopyObject()
	if err := replaceFromMap(m, next); err != nil {
		return nil, err
	}
	return next, nil
}

// decodeScale reads an autoscaling/v1 Scale body.
func decodeScale(data []byte) (*autoscalingv1.Scale, error) {
	var sc autoscalingv1.Scale
	if err := json.Unmarshal(data, &sc); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid Scale: %v", err))
	}
	if sc.Kind != "" && sc.Kind != "Scale" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (Scale)", sc.Kind))
	}
	return &sc, nil
}

// replaceScale is PUT on a scale subresource.
func (s *Server) replaceScale(w http.ResponseWriter, r *http.Request, t target) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	data, err := bodyJSON(r, body, bodyTypes...)
	if err != nil {
		return err
	}
	sc, err := decodeScale(data)
	if err != nil {
		return err
	}
	if sc.Name != "" && sc.Name != t.name {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", sc.Name, t.name))
	}
	var precondition uint64
	if sc.ResourceVersion != "" {
		if _, err := fmt.Sscan(sc.ResourceVersion, &precondition); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", sc.ResourceVersion))
		}
	}
	o, err := s.update(r, t, precondition, func(cur runtime.Object) (runtime.Object, error) {
		return withReplicas(cur, sc.Spec.Replicas)
	})
	if err != nil {
		return err
	}
	out, err := s.scaleOf(t, o)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// patchScale applies a patch to the object's Scale and returns the object
// with the patched replica count.
func (s *Server) patchScale(t target, cur runtime.Object, pt types.PatchType, patch []byte) (runtime.Object, error) {
	spec, status, selector, err := replicasOf(cur)
	if err != nil {
		return nil, err
	}
	m := accessor(cur)
	sc := autoscalingv1.Scale{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(), ResourceVersion: m.GetResourceVersion()},
		Spec:       autoscalingv1.ScaleSpec{Replicas: spec},
		Status:     autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}
	curJSON, err := json.Marshal(&sc)
	if err != nil {
		return nil, err
	}
	patched, err := applyPatch(pt, curJSON, patch, &sc)
	if err != nil {
		return nil, err
	}
	next, err := decodeScale(patched)
	if err != nil {
		return nil, err
	}
	if rv := next.ResourceVersion; rv != "" && rv != m.GetResourceVersion() {
		return nil, apierrors.NewConflict(t.gr(), t.name, fmt.Errorf("%s", conflictMessage))
	}
	return withReplicas(cur, next.Spec.Replicas)
}
