package statefulset

import (
	"github.com/wakehq/wake/services/controllers/revision"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// revisions is what the controller decides about its ControllerRevisions.
type revisions struct {
	current, update *appsv1.ControllerRevision
	create          *appsv1.ControllerRevision // update, when it is new
	bump            *appsv1.ControllerRevision // an older revision made the newest again (rollback)
	collisions      *int32
}

// syncRevisions finds or makes the revision of the set's template (the
// update revision) and the current one, as upstream's
// getStatefulSetRevisions does.
func syncRevisions(set *appsv1.StatefulSet, history []*appsv1.ControllerRevision) revisions {
	data := revision.Patch(&set.Spec.Template)
	c := revision.Choose(history, set.Name, data, set.Status.CollisionCount, func(name string, number int64) *appsv1.ControllerRevision {
		return newRevision(set, name, data, number)
	})
	r := revisions{update: c.Update, create: c.Create, bump: c.Bump, collisions: c.Collisions}
	r.current = r.update
	for _, h := range history {
		if h.Name == set.Status.CurrentRevision {
			r.current = h
		}
	}
	if r.bump != nil && r.current.Name == r.bump.Name {
		r.current = r.bump
	}
	return r
}

func newRevision(set *appsv1.StatefulSet, name string, data []byte, number int64) *appsv1.ControllerRevision {
	labels := map[string]string{}
	for k, v := range set.Spec.Template.Labels {
		labels[k] = v
	}
	labels[appsv1.ControllerRevisionHashLabelKey] = name
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: set.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{ownerRef(set)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: number,
	}
}

// oldRevisions are the revisions beyond the history limit that no pod uses
// and that are neither current nor update, oldest first.
func oldRevisions(set *appsv1.StatefulSet, history []*appsv1.ControllerRevision, r revisions, pods []*corev1.Pod) []*appsv1.ControllerRevision {
	used := map[string]bool{r.current.Name: true, r.update.Name: true}
	for _, p := range pods {
		used[p.Labels[appsv1.ControllerRevisionHashLabelKey]] = true
	}
	var unused []*appsv1.ControllerRevision
	for _, h := range history {
		if !used[h.Name] {
			unused = append(unused, h)
		}
	}
	limit := 10
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	if len(unused) <= limit {
		return nil
	}
	return unused[:len(unused)-limit]
}
