package job

import (
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:job"

var (
	jobKind = reconcile.MustKind("batch", "jobs")
	podKind = reconcile.MustKind("", "pods")
)

// Loop returns the controller's loop over log and view.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: Reconcile,
		Keys:         Keys,
		ResyncKeys:   reconcile.AllOf("batch", "jobs"),
		RequeueAfter: RequeueAfter,
	}
}

// Keys maps a change to the Job it concerns: the Job itself, or the Job
// controlling a pod.
func Keys(ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	switch {
	case ref.Group == "batch" && ref.Resource == "jobs":
		return []events.Ref{ref}
	case ref.Group == "" && ref.Resource == "pods":
		if c := reconcile.ControllerOf(ch.Object.Raw); c != nil && c.Kind == "Job" && c.APIVersion == "batch/v1" {
			return []events.Ref{{Group: "batch", Resource: "jobs", Namespace: ref.Namespace, Name: c.Name}}
		}
	}
	return nil
}

// RequeueAfter is how long until a Job's active deadline or TTL is due.
func RequeueAfter(view reconcile.View, key events.Ref, now time.Time) time.Duration {
	o, ok := view.Get(key)
	var j batchv1.Job
	if !ok || reconcile.DecodeInto(o, &j) != nil {
		return 0
	}
	if due, ok := nextDeadline(&j); ok {
		return reconcile.Until(now, due)
	}
	return 0
}

// nextDeadline is when time alone changes what the controller decides for
// j: its active deadline while running, its TTL once finished.
func nextDeadline(j *batchv1.Job) (time.Time, bool) {
	if _, done := finished(&j.Status); done {
		if j.Spec.TTLSecondsAfterFinished == nil {
			return time.Time{}, false
		}
		t := finishTime(&j.Status)
		if t == nil {
			return time.Time{}, false
		}
		return t.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second), true
	}
	if j.Spec.ActiveDeadlineSeconds == nil || j.Status.StartTime == nil {
		return time.Time{}, false
	}
	return j.Status.StartTime.Add(time.Duration(*j.Spec.ActiveDeadlineSeconds) * time.Second), true
}

// Reconcile converges one Job: its pods, its status, its TTL.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var j batchv1.Job
	if err := reconcile.DecodeInto(o, &j); err != nil {
		return nil, err
	}
	if j.DeletionTimestamp != nil || (j.Spec.ManagedBy != nil && *j.Spec.ManagedBy != batchv1.JobControllerName) {
		return nil, nil
	}
	pods, objs := ownedPods(view, &j)
	seed := string(j.UID) + "/" + strconv.FormatUint(view.Seq(), 10)
	d := decide(&j, pods, now, seed)

	var out []reconcile.Append
	for i, p := range d.create {
		a, err := reconcile.Create(podKind, p, now, "job-pod/"+seed+"/"+strconv.Itoa(i))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	for _, p := range d.delete {
		o := objs[p.Name]
		if o == nil {
			continue
		}
		a, err := reconcile.Delete(podKind, o, now)
		if err != nil {
			return nil, err
		}
		if !a.Empty() {
			out = append(out, a)
		}
	}
	if d.deleteJob {
		a, err := reconcile.Delete(jobKind, o, now)
		if err != nil {
			return nil, err
		}
		return append(out, a), nil
	}
	if !equality.Semantic.DeepEqual(d.status, j.Status) {
		j.Status = d.status
		a, err := reconcile.Update(jobKind, &j, o, events.ChangeStatus)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// ownedPods returns the pods j selects and controls, sorted by name, and
// their projection objects by name.
func ownedPods(view reconcile.View, j *batchv1.Job) ([]*corev1.Pod, map[string]*projections.Object) {
	sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil || j.Spec.Selector == nil {
		sel = labels.SelectorFromSet(labels.Set{batchv1.ControllerUidLabel: string(j.UID)})
	}
	return reconcile.Owned[corev1.Pod](view, "", "pods", j.Namespace, j.UID, sel)
}

func ownerRef(j *batchv1.Job) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion: "batch/v1", Kind: "Job", Name: j.Name, UID: types.UID(j.UID),
		Controller: &yes, BlockOwnerDeletion: &yes,
	}
}
