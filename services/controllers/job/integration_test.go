package job_test

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/job"
	"github.com/wakehq/wake/services/reconcile"
)

// TestJobRunsToCompletion runs the Job loop against an in-process NATS
// server and a real projection; a fake kubelet marks every pod Succeeded.
func TestJobRunsToCompletion(t *testing.T) {
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	proj := projections.New(projections.Options{})
	go proj.Run(ctx, log, nil)
	loop := job.Loop(log, proj)
	go loop.Run(ctx)
	go fakeKubelet(ctx, t, log, proj)

	jobKind := reconcile.MustKind("batch", "jobs")
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](3), Parallelism: ptr.To[int32](2),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "pi", Image: "perl"}},
			}},
		},
	}
	a, err := reconcile.Create(jobKind, j, time.Now(), "test/pi")
	if err != nil {
		t.Fatal(err)
	}
	if err := appendAll(ctx, log, a); err != nil {
		t.Fatal(err)
	}
	ref := events.Ref{Group: "batch", Resource: "jobs", Namespace: "default", Name: "pi"}
	for {
		// Watch from before the read: a change applied in between wakes it.
		w, _ := proj.Watch(proj.Seq())
		if o, ok := proj.Get(ref); ok {
			var got batchv1.Job
			if err := reconcile.DecodeInto(o, &got); err != nil {
				t.Fatal(err)
			}
			for _, c := range got.Status.Conditions {
				if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
					if got.Status.Succeeded != 3 || got.Status.Active != 0 || got.Status.CompletionTime == nil {
						t.Fatalf("complete with status %+v", got.Status)
					}
					pods, _ := proj.List("", "pods", "default")
					if len(pods) != 3 {
						t.Errorf("%d pods, want 3", len(pods))
					}
					return
				}
			}
		}
		if _, err := w.Next(ctx); err != nil {
			t.Fatalf("job did not complete: %v", err)
		}
	}
}

// fakeKubelet marks every live pod Succeeded.
func fakeKubelet(ctx context.Context, t *testing.T, log *events.Log, proj *projections.Projection) {
	podKind := reconcile.MustKind("", "pods")
	w, err := proj.Watch(proj.Seq())
	if err != nil {
		return
	}
	for {
		changes, err := w.Next(ctx)
		if err != nil {
			return
		}
		for _, ch := range changes {
			if ch.Object.Ref.Resource != "pods" || ch.Type == projections.Deleted {
				continue
			}
			var p corev1.Pod
			if reconcile.DecodeInto(ch.Object, &p) != nil || p.Status.Phase == corev1.PodSucceeded {
				continue
			}
			p.Status.Phase = corev1.PodSucceeded
			a, err := reconcile.Update(podKind, &p, ch.Object, events.ChangeStatus)
			if err == nil {
				err = appendAll(ctx, log, a)
			}
			if err != nil && ctx.Err() == nil {
				t.Errorf("kubelet: %v", err)
			}
		}
	}
}

func appendAll(ctx context.Context, log *events.Log, as ...reconcile.Append) error {
	for _, a := range as {
		ev := a.Event
		ev.ID, ev.Actor, ev.Source, ev.RequestID = events.NewID(), "test", "wake/test", "test"
		if _, err := log.Append(ctx, ev, a.Expect); err != nil {
			return err
		}
	}
	return nil
}
