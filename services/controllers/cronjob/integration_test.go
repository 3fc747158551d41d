package cronjob_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/cronjob"
	"github.com/wakehq/wake/services/controllers/job"
	"github.com/wakehq/wake/services/reconcile"
)

// TestCronJobStartsJobOnSchedule runs the CronJob and Job loops against an
// in-process NATS server with a fake clock: nothing runs before 10:05, and
// at 10:05 the Job tick-<minutes> starts and gets its pod.
func TestCronJobStartsJobOnSchedule(t *testing.T) {
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	proj := projections.New(projections.Options{})
	go proj.Run(ctx, log, nil)

	start := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	for _, l := range []*reconcile.Loop{cronjob.Loop(log, proj), job.Loop(log, proj)} {
		// The clock jumps; requeues at most 20ms later (real time) notice it.
		requeue := l.RequeueAfter
		l.Now, l.RequeueAfter = now, func(v reconcile.View, k events.Ref, now time.Time) time.Duration {
			return min(requeue(v, k, now), 20*time.Millisecond)
		}
		go l.Run(ctx)
	}

	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			}}}},
		},
	}
	a, err := reconcile.Create(reconcile.MustKind("batch", "cronjobs"), cj, start, "test/tick")
	if err != nil {
		t.Fatal(err)
	}
	ev := a.Event
	ev.ID, ev.Actor, ev.Source, ev.RequestID = events.NewID(), "test", "wake/test", "test"
	if _, err := log.Append(ctx, ev, 0); err != nil {
		t.Fatal(err)
	}

	time.Sleep(100 * time.Millisecond) // several resyncs at 10:00:30
	if jobs, _ := proj.List("batch", "jobs", "default"); len(jobs) != 0 {
		t.Fatalf("%d jobs before the schedule", len(jobs))
	}
	clock.Store(time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC).UnixNano())
	want := fmt.Sprintf("tick-%d", time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC).Unix()/60)
	for {
		// Watch from before the reads: a change applied in between wakes it.
		w, _ := proj.Watch(proj.Seq())
		jobs, _ := proj.List("batch", "jobs", "default")
		pods, _ := proj.List("", "pods", "default")
		cjo, _ := proj.Get(events.Ref{Group: "batch", Resource: "cronjobs", Namespace: "default", Name: "tick"})
		var got batchv1.CronJob
		_ = reconcile.DecodeInto(cjo, &got)
		if len(jobs) == 1 && len(pods) == 1 && len(got.Status.Active) == 1 {
			if jobs[0].Ref.Name != want || got.Status.Active[0].Name != want {
				t.Fatalf("job %s, active %v; want %s", jobs[0].Ref.Name, got.Status.Active, want)
			}
			return
		}
		if len(jobs) > 1 {
			t.Fatalf("%d jobs", len(jobs))
		}
		if _, err := w.Next(ctx); err != nil {
			t.Fatalf("no job with a pod: jobs %d pods %d status %+v", len(jobs), len(pods), got.Status)
		}
	}
}
