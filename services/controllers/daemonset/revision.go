package daemonset

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
)

// revisionPatch is what a ControllerRevision of a DaemonSet stores, as
// upstream: the pod template as a strategic merge patch that replaces it.
func revisionPatch(tmpl *corev1.PodTemplateSpec) []byte {
	raw, _ := json.Marshal(tmpl)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	m["$patch"] = "replace"
	out, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": m}})
	return out
}

// revisionHash is upstream's HashControllerRevision: fnv32a of the data
// (and the collision count), safely encoded.
func revisionHash(data []byte, collisions *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisions != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisions), 10)))
	}
	return rand.SafeEncodeString(strconv.FormatInt(int64(h.Sum32()), 10))
}

// revisionName is upstream's ControllerRevisionName.
func revisionName(prefix, hash string) string {
	if len(prefix) > 223 {
		prefix = prefix[:223]
	}
	return prefix + "-" + hash
}

// templateOf reads the pod template back from a revision.
func templateOf(cr *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, bool) {
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

// revisions is what the controller decides about its ControllerRevisions.
type revisions struct {
	update     *appsv1.ControllerRevision
	hash       string                     // the update revision's hash: the pods' controller-revision-hash
	create     *appsv1.ControllerRevision // update, when it is new
	bump       *appsv1.ControllerRevision // an older revision made the newest again (rollback)
	collisions *int32
}

// syncRevisions finds or makes the revision of the DaemonSet's template (the
// update revision), as upstream's
// constructHistory does.
func syncRevisions(ds *appsv1.DaemonSet, history []*appsv1.ControllerRevision) revisions {
	sort.SliceStable(history, func(i, j int) bool {
		if history[i].Revision != history[j].Revision {
			return history[i].Revision < history[j].Revision
		}
		return history[i].Name < history[j].Name
	})
	r := revisions{collisions: ds.Status.CollisionCount}
	var next int64 = 1
	if n := len(history); n > 0 {
		next = history[n-1].Revision + 1
	}
	data := revisionPatch(&ds.Spec.Template)
	for {
		r.hash = revisionHash(data, r.collisions)
		name := revisionName(ds.Name, r.hash)
		var same *appsv1.ControllerRevision
		for _, h := range history {
			if h.Name == name {
				same = h
			}
		}
		switch {
		case same == nil:
			r.update = newRevision(ds, name, data, next)
			r.create = r.update
		case bytes.Equal(same.Data.Raw, data) || jsonEqual(same.Data.Raw, data):
			r.update = same
			if same != history[len(history)-1] {
				bumped := same.DeepCopy()
				bumped.Revision = next
				r.update, r.bump = bumped, bumped
			}
		default: // a hash collision: count it and hash again
			c := int32(0)
			if r.collisions != nil {
				c = *r.collisions
			}
			c++
			r.collisions = &c
			continue
		}
		break
	}
	return r
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ra, _ := json.Marshal(x)
	rb, _ := json.Marshal(y)
	return bytes.Equal(ra, rb)
}

func newRevision(ds *appsv1.DaemonSet, name string, data []byte, number int64) *appsv1.ControllerRevision {
	labels := map[string]string{}
	for k, v := range ds.Spec.Template.Labels {
		labels[k] = v
	}
	labels[appsv1.ControllerRevisionHashLabelKey] = strings.TrimPrefix(name, ds.Name+"-")
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ds.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{ownerRef(ds)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: number,
	}
}

// oldRevisions are the revisions beyond the history limit that no pod uses
// and that are not the update revision, oldest first.
func oldRevisions(ds *appsv1.DaemonSet, history []*appsv1.ControllerRevision, r revisions, pods []*corev1.Pod) []*appsv1.ControllerRevision {
	used := map[string]bool{r.update.Name: true}
	for _, p := range pods {
		used[revisionName(ds.Name, p.Labels[appsv1.ControllerRevisionHashLabelKey])] = true
	}
	var unused []*appsv1.ControllerRevision
	for _, h := range history {
		if !used[h.Name] {
			unused = append(unused, h)
		}
	}
	limit := 10
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	if len(unused) <= limit {
		return nil
	}
	return unused[:len(unused)-limit]
}
