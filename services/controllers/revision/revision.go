// Package revision holds what the DaemonSet and StatefulSet controllers
// share about ControllerRevisions: how a pod template is stored in one, how
// it is hashed and named, as upstream's controller history does.
//
// It is pure and decides nothing: each controller keeps its own rules for
// which revision is current and which to clean up.
package revision

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// Patch is what a ControllerRevision stores, as upstream: the pod template
// as a strategic merge patch that replaces it.
func Patch(tmpl *corev1.PodTemplateSpec) []byte {
	raw, _ := json.Marshal(tmpl)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	m["$patch"] = "replace"
	out, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": m}})
	return out
}

// Hash is upstream's HashControllerRevision: fnv32a of the data (and the
// collision count), safely encoded.
func Hash(data []byte, collisions *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisions != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisions), 10)))
	}
	return rand.SafeEncodeString(strconv.FormatInt(int64(h.Sum32()), 10))
}

// Name is upstream's ControllerRevisionName.
func Name(prefix, hash string) string {
	if len(prefix) > 223 {
		prefix = prefix[:223]
	}
	return prefix + "-" + hash
}

// Template reads the pod template back from a revision.
func Template(cr *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, bool) {
	var p struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if json.Unmarshal(cr.Data.Raw, &p) != nil {
		return nil, false
	}
	return &p.Spec.Template, true
}

// EqualJSON reports whether two JSON documents hold the same value.
func EqualJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ra, _ := json.Marshal(x)
	rb, _ := json.Marshal(y)
	return bytes.Equal(ra, rb)
}
