package cronjob

import (
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:cronjob"

var (
	cronJobKind = reconcile.MustKind("batch", "cronjobs")
	jobKind     = reconcile.MustKind("batch", "jobs")
	podKind     = reconcile.MustKind("", "pods")
)

// Loop returns the controller's loop over log and view.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: Reconcile,
		Keys:         Keys,
		ResyncKeys:   reconcile.AllOf("batch", "cronjobs"),
		RequeueAfter: RequeueAfter,
	}
}

// Keys maps a change to the CronJob it concerns: the CronJob itself, or the
// CronJob controlling a Job.
func Keys(ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	if ref.Group != "batch" {
		return nil
	}
	switch ref.Resource {
	case "cronjobs":
		return []events.Ref{ref}
	case "jobs":
		if c := reconcile.ControllerOf(ch.Object.Raw); c != nil && c.Kind == "CronJob" && c.APIVersion == "batch/v1" {
			return []events.Ref{{Group: "batch", Resource: "cronjobs", Namespace: ref.Namespace, Name: c.Name}}
		}
	}
	return nil
}

// RequeueAfter is how long until a CronJob's next start is due.
func RequeueAfter(view reconcile.View, key events.Ref, now time.Time) time.Duration {
	o, ok := view.Get(key)
	var cj batchv1.CronJob
	if !ok || reconcile.DecodeInto(o, &cj) != nil {
		return 0
	}
	if next, ok := NextStart(&cj, now); ok {
		return reconcile.Until(now, next)
	}
	return 0
}

// Reconcile converges one CronJob: starts its due Job, trims its history,
// writes its status.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var cj batchv1.CronJob
	if err := reconcile.DecodeInto(o, &cj); err != nil {
		return nil, err
	}
	jobs, jobObjs := ownedJobs(view, &cj)
	d := decide(&cj, jobs, now)
	if d.problem != "" {
		slog.Warn("cronjob not scheduled", "cronjob", key.String(), "reason", d.problem)
	}
	if d.missed > maxMissed {
		slog.Warn("too many missed start times; starting only the latest. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
			"cronjob", key.String(), "missed", d.missed)
	}
	var out []reconcile.Append
	if d.create != nil {
		a, err := reconcile.Create(jobKind, d.create, now, "cronjob/"+string(cj.UID)+"/"+d.create.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
		m := metav1.Object(d.create)
		for i := range d.status.Active {
			if d.status.Active[i].Name == m.GetName() {
				d.status.Active[i].UID = m.GetUID()
			}
		}
	}
	for _, j := range d.delete {
		as, err := deleteJob(view, jobObjs[j.Name], j, now)
		if err != nil {
			return nil, err
		}
		out = append(out, as...)
	}
	if !equality.Semantic.DeepEqual(d.status, cj.Status) {
		cj.Status = d.status
		a, err := reconcile.Update(cronJobKind, &cj, o, events.ChangeStatus)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// ownedJobs returns the Jobs cj controls, sorted by name.
func ownedJobs(view reconcile.View, cj *batchv1.CronJob) ([]*batchv1.Job, map[string]*projections.Object) {
	return reconcile.Owned[batchv1.Job](view, "batch", "jobs", cj.Namespace, cj.UID, labels.Everything())
}

// deleteJob deletes a Job and stops its pods (what background propagation
// through the garbage collector would do).
func deleteJob(view reconcile.View, o *projections.Object, j *batchv1.Job, now time.Time) ([]reconcile.Append, error) {
	if o == nil || j.DeletionTimestamp != nil {
		return nil, nil
	}
	var out []reconcile.Append
	pods, _ := view.List("", "pods", j.Namespace)
	for _, po := range pods {
		if po.Labels[batchv1.ControllerUidLabel] != string(j.UID) {
			continue
		}
		if c := reconcile.ControllerOf(po.Raw); c == nil || c.UID != j.UID {
			continue
		}
		a, err := reconcile.Delete(podKind, po, now)
		if err != nil {
			return nil, err
		}
		if !a.Empty() {
			out = append(out, a)
		}
	}
	a, err := reconcile.Delete(jobKind, o, now)
	if err != nil {
		return nil, err
	}
	return append(out, a), nil
}
