package hpa_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/deployment"
	"github.com/wakehq/wake/services/controllers/hpa"
	"github.com/wakehq/wake/services/controllers/replicaset"
	"github.com/wakehq/wake/services/controllers/replicaset/kubelettest"
	"github.com/wakehq/wake/services/reconcile"
	"github.com/wakehq/wake/services/reconcile/reconciletest"
)

// fakeMetrics reports the same CPU usage for every pod.
type fakeMetrics struct {
	mu    sync.Mutex
	milli int64
}

func (f *fakeMetrics) set(milli int64) { f.mu.Lock(); f.milli = milli; f.mu.Unlock() }

func (f *fakeMetrics) PodUsage(_ context.Context, pods []*corev1.Pod) (hpa.Usage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := hpa.Usage{}
	for _, p := range pods {
		out[p.UID] = hpa.PodUsage{CPUMilli: f.milli, MemoryBytes: 10 << 20}
	}
	return out, nil
}

// clock is the controller's Now, moved by the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestAutoscalesThroughTheLog(t *testing.T) {
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	proj := projections.New(projections.Options{})
	m := &fakeMetrics{milli: 150} // 3× the target of 50% of 100m
	clk := &clock{t: time.Now()}
	loop := hpa.NewLoop(log, proj, m, 50*time.Millisecond)
	loop.Now = clk.now
	reconciletest.Go(t, ctx, cancel,
		func(ctx context.Context) error { return proj.Run(ctx, log, nil) },
		replicaset.Loop(log, proj).Run,
		deployment.Loop(log, proj).Run,
		kubelettest.Loop(log, proj, nil).Run,
		loop.Run,
	)
	<-proj.Ready()

	one := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
			},
		},
	}
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    3,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)}}}},
		},
	}
	appendCreate(t, log, proj, reconcile.MustKind("apps", "deployments"), d)
	appendCreate(t, log, proj, reconcile.MustKind("autoscaling", "horizontalpodautoscalers"), h)

	state := func() (replicas int32, running int, st autoscalingv2.HorizontalPodAutoscalerStatus) {
		o, _ := proj.Get(events.Ref{Group: "apps", Resource: "deployments", Namespace: "default", Name: "web"})
		var d appsv1.Deployment
		reconcile.DecodeInto(o, &d)
		o, _ = proj.Get(events.Ref{Group: "autoscaling", Resource: "horizontalpodautoscalers", Namespace: "default", Name: "web"})
		var h autoscalingv2.HorizontalPodAutoscaler
		reconcile.DecodeInto(o, &h)
		pods, _ := proj.List("", "pods", "default")
		for _, po := range pods {
			var p corev1.Pod
			reconcile.DecodeInto(po, &p)
			if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return *d.Spec.Replicas, running, h.Status
	}
	describe := func() string {
		r, n, st := state()
		return fmt.Sprintf("deployment replicas %d, running pods %d, hpa status %+v", r, n, st)
	}
	eventually(t, "scale up to 3", func() bool {
		r, n, st := state()
		return r == 3 && n == 3 && st.DesiredReplicas == 3 && st.LastScaleTime != nil
	}, describe)

	m.set(5) // 5% of requests: 1 replica would do, but not within the window
	time.Sleep(300 * time.Millisecond)
	if r, _, st := state(); r != 3 {
		t.Fatalf("scaled down to %d within the stabilization window (status %+v)", r, st)
	}
	clk.add(hpa.DefaultDownscaleWindow + time.Second)
	eventually(t, "scale down to 1 after the window", func() bool {
		r, n, st := state()
		return r == 1 && n == 1 && st.DesiredReplicas == 1
	}, describe)
}

func appendCreate(t *testing.T, log *events.Log, proj *projections.Projection, k kinds.Kind, obj runtime.Object) {
	t.Helper()
	a, err := reconcile.Create(k, obj, time.Now(), "test/"+k.Resource)
	if err != nil {
		t.Fatal(err)
	}
	ev := a.Event
	ev.ID, ev.Actor, ev.Source = events.NewID(), "tester", "wake/test"
	ev.RequestID = ev.ID
	seq, err := log.Append(t.Context(), ev, a.Expect)
	if err == nil {
		err = proj.WaitFor(t.Context(), seq)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds, or fails with what describe says.
func eventually(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached; %s", what, describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
