package replicaset

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:replicaset"

// BurstReplicas bounds the pods one reconcile creates or deletes (one
// AppendBatch, then a wait for the view). Upstream's burst is 500, to spare
// the API server; here a batch costs one round trip, and each reconcile
// decodes every pod of the namespace, so a scale-up of n pods costs
// n/BurstReplicas of them: 1,000 halves that and still leaves room in the
// 4,000 asynchronous publishes a NATS connection allows beside a scheduler
// round (2,000).
const BurstReplicas = 1000

var (
	podKind = reconcile.MustKind("", "pods")
	rsKind  = reconcile.MustKind("apps", "replicasets")
)

// Reconcile converges one ReplicaSet: it adopts matching orphan pods,
// releases owned pods that no longer match, creates or deletes pods so that
// spec.replicas are active, and writes the status when it changed.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var rs appsv1.ReplicaSet
	if err := reconcile.DecodeInto(o, &rs); err != nil {
		return nil, err
	}
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || selector.Empty() {
		return nil, nil // validation forbids it; nothing safe to do
	}
	now = now.UTC().Truncate(time.Second)
	c := claimPods(view, &rs, selector)

	var out []reconcile.Append
	deleting := map[string]bool{}
	if rs.DeletionTimestamp == nil {
		want := int(replicas(rs.Spec.Replicas))
		switch diff := len(c.active) - want; {
		case diff < 0:
			creates, err := createPods(view, &rs, min(-diff, BurstReplicas), now)
			if err != nil {
				return nil, err
			}
			out = append(out, creates...)
		case diff > 0:
			victims := podsToDelete(c.active, relatedPods(view, &rs), min(diff, BurstReplicas), now)
			for _, p := range victims {
				a, err := reconcile.Delete(podKind, c.objs[p.Name], now)
				if err != nil {
					return nil, err
				}
				deleting[p.Name] = true
				if !a.Empty() {
					out = append(out, a)
				}
			}
		}
	}
	for _, p := range c.changed {
		if deleting[p.Name] {
			continue // the deletion carries the pod as it is
		}
		a, err := reconcile.Update(podKind, p, c.objs[p.Name], events.ChangeMetadata)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if st, changed := status(&rs, c, now); changed {
		next := rs.DeepCopy()
		next.Status = st
		a, err := reconcile.Update(rsKind, next, o, events.ChangeStatus)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// claimed is the outcome of matching pods to a ReplicaSet.
type claimed struct {
	active      []*corev1.Pod // owned (or just adopted), active, sorted by name
	terminating int           // owned, matching, being deleted but not finished
	changed     []*corev1.Pod // adopted or released: ownerReferences to write
	objs        map[string]*projections.Object
}

// claimPods is upstream's PodControllerRefManager.ClaimPods over the
// active pods, plus the count of terminating pods the ReplicaSet controls.
func claimPods(view reconcile.View, rs *appsv1.ReplicaSet, selector labels.Selector) claimed {
	c := claimed{objs: map[string]*projections.Object{}}
	objs, _ := view.List("", "pods", rs.Namespace)
	uid := []byte(rs.UID)
	for _, o := range objs {
		matches := selector.Matches(labels.Set(o.Labels))
		if !matches && !bytes.Contains(o.Raw, uid) {
			continue // neither a candidate nor ours: skip the decode
		}
		var p corev1.Pod
		if reconcile.DecodeInto(o, &p) != nil {
			continue
		}
		ref := metav1.GetControllerOf(&p)
		owned := ref != nil && ref.UID == rs.UID
		if ref != nil && !owned {
			continue
		}
		if isPodTerminating(&p) {
			if owned && matches {
				c.terminating++
			}
			continue
		}
		if !IsPodActive(&p) {
			continue
		}
		c.objs[p.Name] = o
		switch {
		case owned && matches:
			c.active = append(c.active, &p)
		case owned && rs.DeletionTimestamp == nil:
			release(&p, rs.UID)
			c.changed = append(c.changed, &p)
		case !owned && matches && rs.DeletionTimestamp == nil:
			p.OwnerReferences = append(p.OwnerReferences, ControllerRef(rs))
			c.changed = append(c.changed, &p)
			c.active = append(c.active, &p)
		}
	}
	return c
}

func release(p *corev1.Pod, uid any) {
	var keep []metav1.OwnerReference
	for _, r := range p.OwnerReferences {
		if r.UID != uid {
			keep = append(keep, r)
		}
	}
	p.OwnerReferences = keep
}

// ControllerRef is the ownerReference a ReplicaSet puts on its pods.
func ControllerRef(rs *appsv1.ReplicaSet) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID,
		Controller: &yes, BlockOwnerDeletion: &yes,
	}
}

// relatedPods are the active pods of every ReplicaSet with the same
// controller as rs (its Deployment's other revisions), rs included.
func relatedPods(view reconcile.View, rs *appsv1.ReplicaSet) []*corev1.Pod {
	owners := map[string]bool{string(rs.UID): true}
	if ref := metav1.GetControllerOf(rs); ref != nil {
		siblings, _ := view.List("apps", "replicasets", rs.Namespace)
		for _, o := range siblings {
			if o.UID == string(rs.UID) || !bytes.Contains(o.Raw, []byte(ref.UID)) {
				continue
			}
			var s appsv1.ReplicaSet
			if reconcile.DecodeInto(o, &s) == nil {
				if r := metav1.GetControllerOf(&s); r != nil && r.UID == ref.UID {
					owners[string(s.UID)] = true
				}
			}
		}
	}
	var out []*corev1.Pod
	objs, _ := view.List("", "pods", rs.Namespace)
	for _, o := range objs {
		var p corev1.Pod
		if !bytes.Contains(o.Raw, []byte(`"ownerReferences"`)) || reconcile.DecodeInto(o, &p) != nil {
			continue
		}
		if r := metav1.GetControllerOf(&p); r != nil && owners[string(r.UID)] && IsPodActive(&p) {
			out = append(out, &p)
		}
	}
	return out
}

// createPods creates n pods from the template. Names are the ReplicaSet's
// name, a dash and a suffix seeded by the ReplicaSet's uid, the view's
// sequence and an index, skipping names in use.
func createPods(view reconcile.View, rs *appsv1.ReplicaSet, n int, now time.Time) ([]reconcile.Append, error) {
	prefix := podPrefix(rs.Name)
	out := make([]reconcile.Append, 0, n)
	used := map[string]bool{}
	for i := 0; len(out) < n; i++ {
		seed := fmt.Sprintf("%s/%d/%d", rs.UID, view.Seq(), i)
		name := prefix + reconcile.NameSuffix(seed)
		if _, exists := view.Get(events.Ref{Resource: "pods", Namespace: rs.Namespace, Name: name}); exists || used[name] {
			continue
		}
		used[name] = true
		pod := podFromTemplate(rs, prefix, name)
		a, err := reconcile.Create(podKind, pod, now, "pod/"+seed)
		if err != nil {
			return nil, fmt.Errorf("replicaset %s/%s: pod from template: %w", rs.Namespace, rs.Name, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// podPrefix is the generateName of a controller's pods, cut so the
// generated name fits in 63 characters as upstream's name generator does.
func podPrefix(name string) string {
	prefix := name + "-"
	if len(prefix) > 58 {
		prefix = prefix[:58]
	}
	return prefix
}

func podFromTemplate(rs *appsv1.ReplicaSet, prefix, name string) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, GenerateName: prefix, Namespace: rs.Namespace,
			Labels: t.Labels, Annotations: t.Annotations, Finalizers: t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{ControllerRef(rs)},
		},
		Spec: t.Spec,
	}
}

// status is upstream's calculateStatus: counts over the claimed active pods.
// changed is false when nothing differs from the current status.
func status(rs *appsv1.ReplicaSet, c claimed, now time.Time) (appsv1.ReplicaSetStatus, bool) {
	st := *rs.Status.DeepCopy()
	template := labels.SelectorFromSet(rs.Spec.Template.Labels)
	var full, ready, available int32
	for _, p := range c.active {
		if template.Matches(labels.Set(p.Labels)) {
			full++
		}
		if IsPodReady(p) {
			ready++
			if IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	st.Replicas = int32(len(c.active))
	st.FullyLabeledReplicas = full
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	terminating := int32(c.terminating)
	st.TerminatingReplicas = &terminating
	st.ObservedGeneration = rs.Generation
	var conds []appsv1.ReplicaSetCondition
	for _, cond := range st.Conditions {
		if cond.Type != appsv1.ReplicaSetReplicaFailure {
			conds = append(conds, cond)
		}
	}
	st.Conditions = conds
	return st, !reflect.DeepEqual(st, rs.Status)
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// ownerRefs reads only the ownerReferences of an object.
func ownerRefs(raw []byte) []metav1.OwnerReference {
	var m struct {
		Metadata struct {
			OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.Metadata.OwnerReferences
}

func controllerOf(refs []metav1.OwnerReference) *metav1.OwnerReference {
	for i := range refs {
		if refs[i].Controller != nil && *refs[i].Controller {
			return &refs[i]
		}
	}
	return nil
}
