package cronjob

import (
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

var created = time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)

func newCronJob(tune func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default", UID: "cj-uid", CreationTimestamp: metav1.NewTime(created)},
		Spec: batchv1.CronJobSpec{
			Schedule:          "*/5 * * * *",
			ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tick"}, Annotations: map[string]string{"a": "b"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
				}}},
			},
		},
	}
	if tune != nil {
		tune(cj)
	}
	return cj
}

// ownedJob is a Job of the CronJob started at the given minute after 10:00.
func ownedJob(minute int, state string) *batchv1.Job {
	at := time.Date(2026, 3, 1, 10, minute, 0, 0, time.UTC)
	yes := true
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{
		Name: jobName(newCronJob(nil), at), Namespace: "default", UID: types.UID("job-" + at.Format("1504")),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "tick", UID: "cj-uid", Controller: &yes}},
	}}
	j.Status.StartTime = &metav1.Time{Time: at}
	switch state {
	case "ok":
		j.Status.CompletionTime = &metav1.Time{Time: at.Add(time.Minute)}
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	case "failed":
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}
	}
	return j
}

func at(h, m, s int) time.Time { return time.Date(2026, 3, 1, h, m, s, 0, time.UTC) }

func names(jobs []*batchv1.Job) string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.Name)
	}
	return strings.Join(out, ",")
}

func activeNames(st batchv1.CronJobStatus) string {
	var out []string
	for _, r := range st.Active {
		out = append(out, r.Name)
	}
	return strings.Join(out, ",")
}

func TestDecide(t *testing.T) {
	minute := jn
	tests := []struct {
		name   string
		tune   func(*batchv1.CronJob)
		jobs   []*batchv1.Job
		now    time.Time
		create string // the Job created, "" for none
		delete string
		active string
		last   time.Time // lastScheduleTime, zero for unset
	}{
		{name: "before the first start", now: at(10, 4, 59)},
		{name: "first start", now: at(10, 5, 0), create: minute(at(10, 5, 0)), active: minute(at(10, 5, 0)), last: at(10, 5, 0)},
		{name: "late start still inside the deadline", tune: func(c *batchv1.CronJob) { c.Spec.StartingDeadlineSeconds = ptr.To[int64](60) },
			now: at(10, 5, 59), create: minute(at(10, 5, 0)), active: minute(at(10, 5, 0)), last: at(10, 5, 0)},
		{name: "missed the starting deadline", tune: func(c *batchv1.CronJob) { c.Spec.StartingDeadlineSeconds = ptr.To[int64](60) },
			now: at(10, 6, 1)},
		{name: "several missed starts: only the latest", now: at(10, 27, 0), create: minute(at(10, 25, 0)), active: minute(at(10, 25, 0)), last: at(10, 25, 0)},
		{name: "already started", tune: func(c *batchv1.CronJob) { c.Status.LastScheduleTime = &metav1.Time{Time: at(10, 5, 0)} },
			jobs: []*batchv1.Job{ownedJob(5, "running")}, now: at(10, 7, 0), active: jn(at(10, 5, 0)), last: at(10, 5, 0)},
		{name: "job exists but status was lost", jobs: []*batchv1.Job{ownedJob(5, "running")}, now: at(10, 7, 0), active: jn(at(10, 5, 0)), last: at(10, 5, 0)},
		{name: "allow runs concurrently", tune: func(c *batchv1.CronJob) { c.Status.LastScheduleTime = &metav1.Time{Time: at(10, 5, 0)} },
			jobs: []*batchv1.Job{ownedJob(5, "running")}, now: at(10, 10, 0),
			create: minute(at(10, 10, 0)), active: jn(at(10, 5, 0)) + "," + minute(at(10, 10, 0)), last: at(10, 10, 0)},
		{name: "forbid waits", tune: func(c *batchv1.CronJob) {
			c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
			c.Status.LastScheduleTime = &metav1.Time{Time: at(10, 5, 0)}
		}, jobs: []*batchv1.Job{ownedJob(5, "running")}, now: at(10, 10, 0), active: jn(at(10, 5, 0)), last: at(10, 5, 0)},
		{name: "forbid starts once the previous finished", tune: func(c *batchv1.CronJob) {
			c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent
			c.Status.LastScheduleTime = &metav1.Time{Time: at(10, 5, 0)}
		}, jobs: []*batchv1.Job{ownedJob(5, "ok")}, now: at(10, 10, 0), create: minute(at(10, 10, 0)), active: minute(at(10, 10, 0)), last: at(10, 10, 0)},
		{name: "replace deletes the running one", tune: func(c *batchv1.CronJob) {
			c.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent
			c.Status.LastScheduleTime = &metav1.Time{Time: at(10, 5, 0)}
		}, jobs: []*batchv1.Job{ownedJob(5, "running")}, now: at(10, 10, 0),
			create: minute(at(10, 10, 0)), delete: jn(at(10, 5, 0)), active: minute(at(10, 10, 0)), last: at(10, 10, 0)},
		{name: "suspended", tune: func(c *batchv1.CronJob) { c.Spec.Suspend = ptr.To(true) }, now: at(11, 0, 0)},
		{name: "history limits", tune: func(c *batchv1.CronJob) {
			c.Spec.SuccessfulJobsHistoryLimit, c.Spec.FailedJobsHistoryLimit = ptr.To[int32](2), ptr.To[int32](0)
			c.Status.LastScheduleTime = &metav1.Time{Time: at(10, 25, 0)}
		}, jobs: []*batchv1.Job{ownedJob(5, "ok"), ownedJob(10, "failed"), ownedJob(15, "ok"), ownedJob(20, "ok"), ownedJob(25, "running")},
			now: at(10, 26, 0), delete: jn(at(10, 5, 0)) + "," + jn(at(10, 10, 0)), active: jn(at(10, 25, 0)), last: at(10, 25, 0)},
		{name: "time zone: 10:00 in Tokyo", tune: func(c *batchv1.CronJob) { c.Spec.Schedule, c.Spec.TimeZone = "0 10 * * *", ptr.To("Asia/Tokyo") },
			now: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC), create: jn(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)), active: jn(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)), last: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)},
		{name: "bad time zone schedules nothing", tune: func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Mars/Olympus") }, now: at(11, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decide(newCronJob(tt.tune), tt.jobs, tt.now)
			gotCreate := ""
			if d.create != nil {
				gotCreate = d.create.Name
			}
			var last time.Time
			if d.status.LastScheduleTime != nil {
				last = d.status.LastScheduleTime.Time
			}
			if gotCreate != tt.create || names(d.delete) != tt.delete || activeNames(d.status) != tt.active || !last.Equal(tt.last) {
				t.Errorf("create %q delete %q active %q last %v; want %q %q %q %v",
					gotCreate, names(d.delete), activeNames(d.status), last, tt.create, tt.delete, tt.active, tt.last)
			}
		})
	}
}

func TestJobShape(t *testing.T) {
	cj := newCronJob(func(c *batchv1.CronJob) { c.Spec.Schedule, c.Spec.TimeZone = "0 10 * * *", ptr.To("Asia/Tokyo") })
	d := decide(cj, nil, time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	j := d.create
	if j == nil {
		t.Fatal("no job")
	}
	if got := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2026-03-02T10:00:00+09:00" {
		t.Errorf("scheduled timestamp %q", got)
	}
	if j.Annotations["a"] != "b" || j.Labels["app"] != "tick" {
		t.Errorf("labels %v annotations %v", j.Labels, j.Annotations)
	}
	if c := metav1.GetControllerOf(j); c == nil || c.UID != "cj-uid" || !ptr.Deref(c.BlockOwnerDeletion, false) {
		t.Errorf("controller %+v", c)
	}
	if cj.Spec.JobTemplate.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "" {
		t.Error("the template was modified")
	}
}

func TestLastSuccessfulTime(t *testing.T) {
	cj := newCronJob(func(c *batchv1.CronJob) { c.Status.LastScheduleTime = &metav1.Time{Time: at(10, 20, 0)} })
	d := decide(cj, []*batchv1.Job{ownedJob(5, "ok"), ownedJob(15, "ok"), ownedJob(10, "failed")}, at(10, 21, 0))
	if got := d.status.LastSuccessfulTime; got == nil || !got.Time.Equal(at(10, 16, 0)) {
		t.Errorf("lastSuccessfulTime %v", got)
	}
}

// TestReconcile goes through the view: the Job is created deterministically
// with the CronJob's status in the same batch.
func TestReconcile(t *testing.T) {
	st := projections.NewState()
	view := stateView{st}
	a, err := reconcile.Create(cronJobKind, newCronJob(nil), created, "cj")
	if err != nil {
		t.Fatal(err)
	}
	apply(t, st, a)
	ref := events.Ref{Group: "batch", Resource: "cronjobs", Namespace: "default", Name: "tick"}
	as, err := Reconcile(view, ref, at(10, 5, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 || as[0].Event.Ref.Resource != "jobs" || as[0].Event.Ref.Name != jn(at(10, 5, 0)) || as[1].Event.Change != events.ChangeStatus {
		t.Fatalf("%d appends, first %s", len(as), as[0].Event.Ref)
	}
	again, _ := Reconcile(view, ref, at(10, 5, 1))
	if string(again[0].Event.Data) != string(as[0].Event.Data) {
		t.Error("not deterministic")
	}
	apply(t, st, as...)
	if as, _ := Reconcile(view, ref, at(10, 6, 0)); len(as) != 0 {
		t.Errorf("second reconcile: %v", as)
	}
	if d := RequeueAfter(view, ref, at(10, 9, 59)); d != time.Second {
		t.Errorf("at 10:09:59 requeued after %s, want 1s (the start at 10:10)", d)
	}
	if d := RequeueAfter(view, ref, at(10, 6, 0)); d != 4*time.Minute {
		t.Errorf("at 10:06 requeued after %s, want 4m", d)
	}
	if d := RequeueAfter(view, ref, at(10, 10, 5)); d != reconcile.Overdue {
		t.Errorf("at 10:10:05, the start not made: requeued after %s, want %s", d, reconcile.Overdue)
	}
}

type stateView struct{ *projections.State }

func (v stateView) List(g, r, ns string) ([]*projections.Object, uint64) {
	return v.State.List(g, r, ns), v.State.Seq()
}

func apply(t *testing.T, st *projections.State, as ...reconcile.Append) {
	t.Helper()
	for _, a := range as {
		ev := a.Event
		ev.Seq = st.Seq() + 1
		if _, err := st.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
}

// jn is the name of the Job started at t.
func jn(t time.Time) string { return fmt.Sprintf("tick-%d", t.Unix()/60) }
