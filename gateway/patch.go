package gateway

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
)

// maxPatchOps bounds a JSON patch, whose operations each copy the document.
const maxPatchOps = 10000

// patch applies a JSON, merge or strategic merge patch to the current object
// and commits the result as an update. A patch that sets
// metadata.resourceVersion makes it a precondition; otherwise a lost race is
// retried against the newer version, as kube-apiserver does.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, t target) error {
	validation := optionsOf(r.Context()).fieldValidation
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	pt := types.PatchType(mt)
	switch pt {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
	case types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
		return unsupportedMediaType(mt + " (server-side apply is not supported yet; use client-side kubectl apply)")
	default:
		return unsupportedMediaType(mt)
	}
	if err := checkJSON(body); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	var warnings []string
	o, err := s.update(r, t, 0, func(cur runtime.Object) (runtime.Object, error) {
		if t.subresource == "scale" {
			return s.patchScale(t, cur, pt, body)
		}
		curJSON, err := encodeObject(cur, t.kind)
		if err != nil {
			return nil, err
		}
		patched, err := applyPatch(pt, curJSON, body, cur)
		if err != nil {
			return nil, err
		}
		next, warns, err := decodeObject(patched, t.kind, validation)
		if err != nil {
			return nil, err
		}
		warnings = warns
		if err := patchPreconditions(t, cur, next); err != nil {
			return nil, err
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	writeWarnings(w, warnings)
	if t.subresource == "scale" {
		sc, err := s.scaleOf(t, o)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, sc)
		return nil
	}
	return s.writeObject(w, r, t.kind, http.StatusOK, o.Raw)
}

// applyPatch applies one patch document to an object's JSON.
func applyPatch(pt types.PatchType, cur, patch []byte, typed runtime.Object) ([]byte, error) {
	switch pt {
	case types.JSONPatchType:
		ops, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid JSON patch: %v", err))
		}
		if len(ops) > maxPatchOps {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("a JSON patch may hold at most %d operations", maxPatchOps))
		}
		out, err := ops.Apply(cur)
		if err != nil {
			return nil, statusError(422, metav1.StatusReasonInvalid, err.Error())
		}
		return out, nil
	case types.MergePatchType:
		if !isJSONObject(patch) {
			return nil, apierrors.NewBadRequest("a merge patch must be a JSON object")
		}
		out, err := jsonpatch.MergePatch(cur, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid merge patch: %v", err))
		}
		return out, nil
	default:
		if !isJSONObject(patch) {
			return nil, apierrors.NewBadRequest("a strategic merge patch must be a JSON object")
		}
		schemaObj, err := scheme.Scheme.New(typed.GetObjectKind().GroupVersionKind())
		if err != nil {
			return nil, err
		}
		out, err := strategicpatch.StrategicMergePatch(cur, patch, schemaObj)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid strategic merge patch: %v", err))
		}
		return out, nil
	}
}

func isJSONObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

// patchPreconditions enforces what a patch may not change and what it may
// demand (the resourceVersion it was computed against), with
// kube-apiserver's answers: another name, or another namespace for a
// namespaced object, is 400 (its checkName); another uid 422, the field
// being immutable. A cluster-scoped object's namespace is cleared, as there.
func patchPreconditions(t target, cur, next runtime.Object) error {
	cm, nm := accessor(cur), accessor(next)
	if nm.GetName() != cm.GetName() {
		return apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", nm.GetName(), t.name))
	}
	if ns := nm.GetNamespace(); t.kind.Namespaced && ns != "" && ns != t.namespace {
		return apierrors.NewBadRequest(fmt.Sprintf("the namespace of the object (%s) does not match the namespace on the request (%s)", ns, t.namespace))
	}
	if uid := nm.GetUID(); uid != "" && uid != cm.GetUID() {
		return invalid(t, field.Invalid(field.NewPath("metadata", "uid"), uid, "field is immutable"))
	}
	rv := nm.GetResourceVersion()
	if rv == "" {
		nm.SetResourceVersion(cm.GetResourceVersion())
		return nil
	}
	if rv != cm.GetResourceVersion() {
		if _, err := strconv.ParseUint(rv, 10, 64); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", rv))
		}
		return apierrors.NewConflict(t.gr(), t.name, fmt.Errorf("%s", conflictMessage))
	}
	return nil
}
