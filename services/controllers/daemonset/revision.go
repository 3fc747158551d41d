package daemonset

import (
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
	data := revision.Patch(&ds.Spec.Template)
	c := revision.Choose(history, ds.Name, data, ds.Status.CollisionCount, func(name string, number int64) *appsv1.ControllerRevision {
		return newRevision(ds, name, data, number)
	})
	return revisions{update: c.Update, hash: c.Hash, create: c.Create, bump: c.Bump, collisions: c.Collisions}
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
