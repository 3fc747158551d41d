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
	"sort"
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

// Choice is where a workload's template stands in its revision history.
type Choice struct {
	Update     *appsv1.ControllerRevision // the template's revision
	Create     *appsv1.ControllerRevision // Update, when it is new
	Bump       *appsv1.ControllerRevision // an older revision made the newest again (rollback)
	Hash       string                     // Update's hash
	Collisions *int32                     // the collision count after hashing
}

// Choose sorts history (oldest first) and finds or makes the revision of
// data (Patch of the template) as upstream's controller history does: the
// revision named by the hash when its data is the same (bumped to the
// newest number when it is not the newest already), else a new one made by
// newRevision(name, number); a name whose data differs is a hash collision,
// counted, and the hash taken again.
func Choose(history []*appsv1.ControllerRevision, prefix string, data []byte, collisions *int32,
	newRevision func(name string, number int64) *appsv1.ControllerRevision) Choice {
	sort.SliceStable(history, func(i, j int) bool {
		if history[i].Revision != history[j].Revision {
			return history[i].Revision < history[j].Revision
		}
		return history[i].Name < history[j].Name
	})
	c := Choice{Collisions: collisions}
	var next int64 = 1
	if n := len(history); n > 0 {
		next = history[n-1].Revision + 1
	}
	for {
		c.Hash = Hash(data, c.Collisions)
		name := Name(prefix, c.Hash)
		var same *appsv1.ControllerRevision
		for _, h := range history {
			if h.Name == name {
				same = h
			}
		}
		switch {
		case same == nil:
			c.Update = newRevision(name, next)
			c.Create = c.Update
			return c
		case bytes.Equal(same.Data.Raw, data) || EqualJSON(same.Data.Raw, data):
			c.Update = same
			if same != history[len(history)-1] {
				bumped := same.DeepCopy()
				bumped.Revision = next
				c.Update, c.Bump = bumped, bumped
			}
			return c
		}
		n := int32(1) // a hash collision: count it and hash again
		if c.Collisions != nil {
			n = *c.Collisions + 1
		}
		c.Collisions = &n
	}
}
