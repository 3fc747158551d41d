package deployment

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:deployment"

var (
	deploymentKind = reconcile.MustKind("apps", "deployments")
	rsKind         = reconcile.MustKind("apps", "replicasets")
)

// errCollision stops a sync after a pod-template-hash collision: the
// Deployment's collisionCount is raised and the next sync uses a new hash.
var errCollision = errors.New("pod-template-hash collision")

// Reconcile converges one Deployment, following upstream's syncDeployment.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var d appsv1.Deployment
	if err := reconcile.DecodeInto(o, &d); err != nil {
		return nil, err
	}
	p := &plan{view: view, now: now.UTC().Truncate(time.Second), obj: o, d: &d, orig: d.DeepCopy(),
		rsObj: map[string]*projections.Object{}, origRS: map[string]*appsv1.ReplicaSet{},
		created: map[string]bool{}, deleted: map[string]bool{}}
	if d.Spec.Replicas == nil {
		one := int32(1)
		d.Spec.Replicas = &one
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || selector.Empty() {
		// Selecting everything would fight every other controller.
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
		}
		return p.appends()
	}
	p.selector = selector
	p.claimReplicaSets()
	err = p.sync()
	if err != nil && !errors.Is(err, errCollision) {
		return nil, err
	}
	return p.appends()
}

func (p *plan) sync() error {
	d := p.d
	if d.DeletionTimestamp != nil {
		return p.syncStatusOnly()
	}
	p.checkPausedConditions()
	if d.Spec.Paused {
		return p.syncScale()
	}
	scaling, err := p.isScalingEvent()
	if err != nil {
		return err
	}
	if scaling {
		return p.syncScale()
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return p.rolloutRecreate()
	}
	return p.rolloutRolling()
}

// plan is one sync's working copy: the Deployment and its ReplicaSets as
// upstream's successive writes would leave them. appends turns the
// differences into at most one event per object.
type plan struct {
	view     reconcile.View
	now      time.Time
	obj      *projections.Object
	d, orig  *appsv1.Deployment
	selector labels.Selector

	rss      []*appsv1.ReplicaSet // owned, oldest first
	released []*appsv1.ReplicaSet // no longer matching: ownerReference removed
	rsObj    map[string]*projections.Object
	origRS   map[string]*appsv1.ReplicaSet
	created  map[string]bool
	deleted  map[string]bool
}

// claimReplicaSets is upstream's getReplicaSetsForDeployment: the
// ReplicaSets this Deployment controls, adopting matching orphans and
// releasing its own that no longer match.
func (p *plan) claimReplicaSets() {
	d := p.d
	objs, _ := p.view.List("apps", "replicasets", d.Namespace)
	for _, o := range objs {
		matches := p.selector.Matches(labels.Set(o.Labels))
		if !matches && !bytes.Contains(o.Raw, []byte(d.UID)) {
			continue
		}
		var rs appsv1.ReplicaSet
		if reconcile.DecodeInto(o, &rs) != nil {
			continue
		}
		if rs.Spec.Replicas == nil {
			one := int32(1)
			rs.Spec.Replicas = &one
		}
		ref := metav1.GetControllerOf(&rs)
		owned := ref != nil && ref.UID == d.UID
		switch {
		case ref != nil && !owned:
			continue
		case owned && !matches:
			if d.DeletionTimestamp == nil {
				p.track(o, &rs)
				p.released = append(p.released, &rs)
				var keep []metav1.OwnerReference
				for _, r := range rs.OwnerReferences {
					if r.UID != d.UID {
						keep = append(keep, r)
					}
				}
				rs.OwnerReferences = keep
			}
			continue
		case !owned && (d.DeletionTimestamp != nil || rs.DeletionTimestamp != nil):
			continue
		}
		p.track(o, &rs)
		if !owned {
			rs.OwnerReferences = append(rs.OwnerReferences, controllerRef(d))
		}
		p.rss = append(p.rss, &rs)
	}
	sortByCreation(p.rss)
}

// track remembers a ReplicaSet as read, to write only what changes.
func (p *plan) track(o *projections.Object, rs *appsv1.ReplicaSet) {
	p.rsObj[rs.Name] = o
	p.origRS[rs.Name] = rs.DeepCopy()
}

func controllerRef(d *appsv1.Deployment) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &yes, BlockOwnerDeletion: &yes}
}

// findNewReplicaSet is the oldest owned ReplicaSet whose template is the
// Deployment's.
func (p *plan) findNewReplicaSet() *appsv1.ReplicaSet {
	for _, rs := range p.rss {
		if !p.deleted[rs.Name] && equalIgnoreHash(&rs.Spec.Template, &p.d.Spec.Template) {
			return rs
		}
	}
	return nil
}

// oldReplicaSets are all owned ReplicaSets but newRS.
func (p *plan) oldReplicaSets(newRS *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range p.rss {
		if rs != newRS && !p.deleted[rs.Name] {
			out = append(out, rs)
		}
	}
	return out
}

// getAllReplicaSetsAndSyncRevision returns the new ReplicaSet (creating
// it when create is set) and the old ones, bringing the new one's
// revision and annotations up to date.
func (p *plan) getAllReplicaSetsAndSyncRevision(create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS := p.findNewReplicaSet()
	old := p.oldReplicaSets(newRS)
	newRS, err := p.getNewReplicaSet(newRS, old, create)
	return newRS, old, err
}

func (p *plan) getNewReplicaSet(existing *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	d := p.d
	newRevision := strconv.FormatInt(maxRevision(old)+1, 10)
	if existing != nil {
		annotated := setNewReplicaSetAnnotations(d, existing, newRevision, true)
		if annotated || existing.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			existing.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			return existing, nil
		}
		setDeploymentRevision(d, existing.Annotations[RevisionAnnotation])
		if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, FoundNewRSReason,
				fmt.Sprintf("Found new replica set %q", existing.Name), p.now))
		}
		return existing, nil
	}
	if !create {
		return nil, nil
	}
	template := *d.Spec.Template.DeepCopy()
	hash := ComputeHash(&template, d.Status.CollisionCount)
	template.Labels = withLabel(d.Spec.Template.Labels, hash)
	selector := d.Spec.Selector.DeepCopy()
	selector.MatchLabels = withLabel(selector.MatchLabels, hash)
	zero := int32(0)
	rs := &appsv1.ReplicaSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: d.Namespace,
			OwnerReferences: []metav1.OwnerReference{controllerRef(d)},
			Labels:          template.Labels,
			// The creation time orders the sets before the event is written.
			CreationTimestamp: metav1.NewTime(p.now),
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: &zero, MinReadySeconds: d.Spec.MinReadySeconds, Selector: selector, Template: template},
	}
	*rs.Spec.Replicas = newRSNewReplicas(d, append(old, rs), rs)
	setNewReplicaSetAnnotations(d, rs, newRevision, false)

	if o, taken := p.view.Get(events.Ref{Group: "apps", Resource: "replicasets", Namespace: d.Namespace, Name: rs.Name}); taken {
		var cur appsv1.ReplicaSet
		if err := reconcile.DecodeInto(o, &cur); err != nil {
			return nil, err
		}
		if ref := metav1.GetControllerOf(&cur); ref != nil && ref.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &cur.Spec.Template) {
			return nil, fmt.Errorf("replicaset %s is this deployment's new one but was not claimed", rs.Name)
		}
		if d.Status.CollisionCount == nil {
			d.Status.CollisionCount = new(int32)
		}
		*d.Status.CollisionCount++
		return nil, errCollision
	}
	p.created[rs.Name] = true
	p.rss = append(p.rss, rs)
	setDeploymentRevision(d, newRevision)
	if hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, NewReplicaSetReason,
			fmt.Sprintf("Created new replica set %q", rs.Name), p.now))
	}
	return rs, nil
}

func withLabel(in map[string]string, hash string) map[string]string {
	out := make(map[string]string, len(in)+1)
	for k, v := range in {
		out[k] = v
	}
	out[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	return out
}

func setDeploymentRevision(d *appsv1.Deployment, rev string) {
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[RevisionAnnotation] = rev
}

// newRSNewReplicas is how big the new ReplicaSet may be now.
func newRSNewReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	want := *d.Spec.Replicas
	if !isRollingUpdate(d) {
		return want
	}
	maxTotal := want + MaxSurge(d)
	current := specReplicas(all)
	if current >= maxTotal {
		return *newRS.Spec.Replicas
	}
	return *newRS.Spec.Replicas + min(maxTotal-current, want-*newRS.Spec.Replicas)
}

// scale sets a ReplicaSet's size and replica annotations; it reports
// whether the size changed.
func (p *plan) scale(rs *appsv1.ReplicaSet, size int32) bool {
	d := p.d
	sized := *rs.Spec.Replicas != size
	if sized || replicasAnnotationsNeedUpdate(rs, *d.Spec.Replicas, *d.Spec.Replicas+MaxSurge(d)) {
		*rs.Spec.Replicas = size
		setReplicasAnnotations(rs, *d.Spec.Replicas, *d.Spec.Replicas+MaxSurge(d))
	}
	return sized
}

// scaleIfChanged is upstream's scaleReplicaSetAndRecordEvent.
func (p *plan) scaleIfChanged(rs *appsv1.ReplicaSet, size int32) bool {
	if *rs.Spec.Replicas == size {
		return false
	}
	return p.scale(rs, size)
}

// appends turns the plan into events: one per changed object.
func (p *plan) appends() ([]reconcile.Append, error) {
	var out []reconcile.Append
	all := append(append([]*appsv1.ReplicaSet(nil), p.rss...), p.released...)
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	for _, rs := range all {
		a, ok, err := p.rsAppend(rs)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, a)
		}
	}
	d, orig := p.d, p.orig
	d.Spec.Replicas = orig.Spec.Replicas
	if !reflect.DeepEqual(d.Status, orig.Status) || !reflect.DeepEqual(d.Annotations, orig.Annotations) {
		a, err := reconcile.Update(deploymentKind, d, p.obj, events.ChangeStatus)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (p *plan) rsAppend(rs *appsv1.ReplicaSet) (reconcile.Append, bool, error) {
	name := rs.Name
	switch {
	case p.created[name] && p.deleted[name]:
		return reconcile.Append{}, false, nil
	case p.created[name]:
		seed := fmt.Sprintf("replicaset/%s/%s/%d", p.d.UID, name, p.view.Seq())
		a, err := reconcile.Create(rsKind, rs, p.now, seed)
		return a, err == nil, err
	case p.deleted[name]:
		a, err := reconcile.Delete(rsKind, p.rsObj[name], p.now)
		return a, err == nil, err
	}
	orig := p.origRS[name]
	if orig == nil || apiequality.Semantic.DeepEqual(orig, rs) {
		return reconcile.Append{}, false, nil
	}
	change := events.ChangeMetadata
	if !apiequality.Semantic.DeepEqual(orig.Spec, rs.Spec) {
		change = events.ChangeSpec
		rs.Generation = orig.Generation + 1
	}
	a, err := reconcile.Update(rsKind, rs, p.rsObj[name], change)
	return a, err == nil, err
}

// podsByReplicaSet are the pods matching the Deployment's selector, by the
// uid of the owned ReplicaSet controlling them (for Recreate).
func (p *plan) podsByReplicaSet() map[types.UID][]*corev1.Pod {
	owned := map[types.UID]bool{}
	for _, rs := range p.rss {
		owned[rs.UID] = true
	}
	out := map[types.UID][]*corev1.Pod{}
	objs, _ := p.view.List("", "pods", p.d.Namespace)
	for _, o := range objs {
		if !p.selector.Matches(labels.Set(o.Labels)) {
			continue
		}
		var pod corev1.Pod
		if reconcile.DecodeInto(o, &pod) != nil {
			continue
		}
		if ref := metav1.GetControllerOf(&pod); ref != nil && owned[ref.UID] {
			out[ref.UID] = append(out[ref.UID], &pod)
		}
	}
	return out
}
