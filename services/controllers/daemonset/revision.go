package daemonset

import (
	"bytes"
	"sort"
	"strings"

	"github.com/wakehq/wake/services/controllers/revision"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

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
	data := revision.Patch(&ds.Spec.Template)
	for {
		r.hash = revision.Hash(data, r.collisions)
		name := revision.Name(ds.Name, r.hash)
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
		case bytes.Equal(same.Data.Raw, data) || revision.EqualJSON(same.Data.Raw, data):
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
		used[revision.Name(ds.Name, p.Labels[appsv1.ControllerRevisionHashLabelKey])] = true
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
