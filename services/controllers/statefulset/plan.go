package statefulset

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wakehq/wake/services/controllers/revision"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Labels StatefulSet pods carry for their identity.
const (
	podNameLabel  = appsv1.StatefulSetPodNameLabel // statefulset.kubernetes.io/pod-name
	podIndexLabel = appsv1.PodIndexLabel           // apps.kubernetes.io/pod-index
)

// decision is what one reconcile of a StatefulSet decides.
type decision struct {
	status    appsv1.StatefulSetStatus
	create    []*corev1.Pod
	delete    []*corev1.Pod
	claims    []*corev1.PersistentVolumeClaim // PVCs to create
	revs      revisions
	dropRevs  []*appsv1.ControllerRevision
	blockedBy string // why the sync stopped early (for tests and logs)
}

// decide is the controller's pure core, upstream's
// defaultStatefulSetControl.updateStatefulSet: create missing pods (and
// their claims), replace failed ones, delete condemned ones from the
// highest ordinal, and roll out the update revision from the highest
// ordinal down to the partition; OrderedReady does one step at a time and
// waits for each pod to be Running and Ready, Parallel does all at once.
// claimExists says whether a PVC of that name exists.
func decide(set *appsv1.StatefulSet, pods []*corev1.Pod, history []*appsv1.ControllerRevision, claimExists func(string) bool, now time.Time) decision {
	d := decision{revs: syncRevisions(set, history)}
	d.dropRevs = oldRevisions(set, history, d.revs, pods)
	start := 0
	if set.Spec.Ordinals != nil {
		start = int(set.Spec.Ordinals.Start)
	}
	n := int(ptr.Deref(set.Spec.Replicas, 1))
	replicas := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	for _, p := range pods {
		ord, ok := ordinalOf(set, p)
		switch {
		case !ok:
		case ord >= start && ord < start+n:
			replicas[ord-start] = p
		default:
			condemned = append(condemned, p)
		}
	}
	sort.Slice(condemned, func(i, j int) bool {
		o1, _ := ordinalOf(set, condemned[i])
		o2, _ := ordinalOf(set, condemned[j])
		return o1 < o2
	})
	d.status = status(set, pods, d.revs, now)
	if set.DeletionTimestamp != nil {
		return d
	}
	ordered := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	minReady := set.Spec.MinReadySeconds

	// Replicas, lowest ordinal first.
	for i, p := range replicas {
		ord := start + i
		for _, c := range claimsFor(set, ord) {
			if !claimExists(c.Name) {
				d.claims = append(d.claims, c)
			}
		}
		switch {
		case p == nil:
			d.create = append(d.create, podFor(set, d.revs, ord))
			if ordered {
				d.blockedBy = "creating " + podName(set, ord)
				return d
			}
		case terminal(p) && p.DeletionTimestamp == nil:
			d.delete = append(d.delete, p)
			if ordered {
				d.blockedBy = "replacing failed " + p.Name
				return d
			}
		case p.DeletionTimestamp != nil:
			if ordered {
				d.blockedBy = "waiting for " + p.Name + " to terminate"
				return d
			}
		case ordered && !available(p, minReady, now):
			d.blockedBy = "waiting for " + p.Name + " to be Running and Ready"
			return d
		}
	}
	if !ordered && (len(d.create) > 0 || len(d.delete) > 0) {
		// Parallel scales down at the same time, but rolls out only once
		// every replica exists.
		d.delete = append(d.delete, live(condemned)...)
		return d
	}

	// Condemned pods, highest ordinal first.
	for i := len(condemned) - 1; i >= 0; i-- {
		p := condemned[i]
		if p.DeletionTimestamp != nil {
			if ordered {
				d.blockedBy = "waiting for " + p.Name + " to terminate"
				return d
			}
			continue
		}
		d.delete = append(d.delete, p)
		if ordered {
			d.blockedBy = "scaling down " + p.Name
			return d
		}
	}
	if len(d.delete) > 0 {
		return d
	}

	// Rolling update, highest ordinal first, down to the partition.
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return d
	}
	partition := 0
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = int(*ru.Partition)
	}
	for i := len(replicas) - 1; i >= partition; i-- {
		p := replicas[i]
		if p.Labels[appsv1.ControllerRevisionHashLabelKey] != d.revs.update.Name && p.DeletionTimestamp == nil {
			d.delete = append(d.delete, p)
			d.blockedBy = "updating " + p.Name
			return d
		}
		if !available(p, minReady, now) {
			d.blockedBy = "waiting for updated " + p.Name
			return d
		}
	}
	return d
}

// status is the set's status from its pods, as upstream computes it.
func status(set *appsv1.StatefulSet, pods []*corev1.Pod, r revisions, now time.Time) appsv1.StatefulSetStatus {
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    r.current.Name,
		UpdateRevision:     r.update.Name,
		CollisionCount:     r.collisions,
		Conditions:         set.Status.Conditions,
	}
	for _, p := range pods {
		st.Replicas++
		if runningAndReady(p) {
			st.ReadyReplicas++
			if available(p, set.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
		if p.DeletionTimestamp != nil {
			continue
		}
		switch p.Labels[appsv1.ControllerRevisionHashLabelKey] {
		case r.current.Name:
			st.CurrentReplicas++
		}
		if p.Labels[appsv1.ControllerRevisionHashLabelKey] == r.update.Name {
			st.UpdatedReplicas++
		}
	}
	// A finished rolling update makes the update revision current.
	if set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType &&
		st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas &&
		st.Replicas == ptr.Deref(set.Spec.Replicas, 1) {
		st.CurrentReplicas, st.CurrentRevision = st.UpdatedReplicas, st.UpdateRevision
	}
	return st
}

// podFor is the pod of one ordinal: the current revision's template below
// the partition, the update revision's above (or always, for OnDelete).
func podFor(set *appsv1.StatefulSet, r revisions, ord int) *corev1.Pod {
	rev := r.update
	if ru := set.Spec.UpdateStrategy.RollingUpdate; set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType &&
		ru != nil && ru.Partition != nil && ord < int(*ru.Partition) {
		rev = r.current
	}
	tmpl := &set.Spec.Template
	if t, ok := revision.Template(rev); ok && rev != r.update {
		tmpl = t
	}
	tmpl = tmpl.DeepCopy()
	name := podName(set, ord)
	labels := tmpl.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	labels[podNameLabel] = name
	labels[podIndexLabel] = strconv.Itoa(ord)
	labels[appsv1.ControllerRevisionHashLabelKey] = rev.Name
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: set.Namespace, Labels: labels,
			Annotations: tmpl.Annotations, Finalizers: tmpl.Finalizers,
			OwnerReferences: []metav1.OwnerReference{ownerRef(set)},
		},
		Spec: tmpl.Spec,
	}
	p.Spec.Hostname, p.Spec.Subdomain = name, set.Spec.ServiceName
	for _, c := range claimsFor(set, ord) {
		tmplName := strings.TrimSuffix(c.Name, "-"+set.Name+"-"+strconv.Itoa(ord))
		vol := corev1.Volume{Name: tmplName, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name},
		}}
		replaced := false
		for i := range p.Spec.Volumes {
			if p.Spec.Volumes[i].Name == tmplName {
				p.Spec.Volumes[i], replaced = vol, true
			}
		}
		if !replaced {
			p.Spec.Volumes = append(p.Spec.Volumes, vol)
		}
	}
	return p
}

// claimsFor are the PVCs of one ordinal: <template>-<set>-<ordinal>.
func claimsFor(set *appsv1.StatefulSet, ord int) []*corev1.PersistentVolumeClaim {
	var out []*corev1.PersistentVolumeClaim
	for _, t := range set.Spec.VolumeClaimTemplates {
		c := t.DeepCopy()
		c.Name = t.Name + "-" + set.Name + "-" + strconv.Itoa(ord)
		c.Namespace = set.Namespace
		c.ResourceVersion, c.UID = "", ""
		if set.Spec.Selector != nil && len(set.Spec.Selector.MatchLabels) > 0 {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for k, v := range set.Spec.Selector.MatchLabels {
				c.Labels[k] = v
			}
		}
		c.OwnerReferences = nil
		if p := set.Spec.PersistentVolumeClaimRetentionPolicy; p != nil && p.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			ref := ownerRef(set)
			ref.Controller = nil
			c.OwnerReferences = []metav1.OwnerReference{ref}
		}
		c.Status = corev1.PersistentVolumeClaimStatus{}
		out = append(out, c)
	}
	return out
}

func podName(set *appsv1.StatefulSet, ord int) string { return set.Name + "-" + strconv.Itoa(ord) }

// ordinalOf parses <set>-<ordinal>.
func ordinalOf(set *appsv1.StatefulSet, p *corev1.Pod) (int, bool) {
	rest, ok := strings.CutPrefix(p.Name, set.Name+"-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

func live(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func runningAndReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil && readyCondition(p) != nil
}

// available is Running and Ready for at least minReady seconds.
func available(p *corev1.Pod, minReady int32, now time.Time) bool {
	if !runningAndReady(p) {
		return false
	}
	c := readyCondition(p)
	return minReady == 0 || !c.LastTransitionTime.Add(time.Duration(minReady)*time.Second).After(now)
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}
