package hpa

import (
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/services/reconcile"
	"github.com/wakehq/wake/services/reconcile/reconciletest"
)

var (
	hpaRef    = events.Ref{Group: "autoscaling", Resource: "horizontalpodautoscalers", Namespace: "default", Name: "web"}
	deployRef = events.Ref{Group: "apps", Resource: "deployments", Namespace: "default", Name: "web"}
)

// put creates or replaces an object of any group in the view.
func put(v *reconciletest.View, ref events.Ref, obj any) {
	v.T().Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		v.T().Fatal(err)
	}
	typ := events.ObjectCreated
	if _, ok := v.State.Get(ref); ok {
		typ = events.ObjectUpdated
	}
	v.Apply(events.Event{Type: typ, Ref: ref, Data: data})
}

func fixture(t *testing.T, replicas int32, pods int, noRequests bool) *reconciletest.View {
	v := reconciletest.NewView(t)
	put(v, hpaRef, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "hpa-1", Generation: 1},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 3,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: cpuTarget(50)}},
		},
	})
	put(v, deployRef, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "d-1", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
			},
		},
		Status: appsv1.DeploymentStatus{Replicas: replicas},
	})
	for _, p := range testPods(pods, noRequests) {
		p.Namespace, p.Labels = "default", map[string]string{"app": "web"}
		v.Put("pods", p)
	}
	return v
}

func (s *hpaState) load(t *testing.T, v *reconciletest.View) {
	t.Helper()
	o, _ := v.Get(hpaRef)
	if err := reconcile.DecodeInto(o, &s.hpa); err != nil {
		t.Fatal(err)
	}
	o, _ = v.Get(deployRef)
	if err := reconcile.DecodeInto(o, &s.deploy); err != nil {
		t.Fatal(err)
	}
}

type hpaState struct {
	hpa    autoscalingv2.HorizontalPodAutoscaler
	deploy appsv1.Deployment
}

func cond(h *autoscalingv2.HorizontalPodAutoscaler, typ autoscalingv2.HorizontalPodAutoscalerConditionType) autoscalingv2.HorizontalPodAutoscalerCondition {
	if c := condition(h.Status.Conditions, typ); c != nil {
		return *c
	}
	return autoscalingv2.HorizontalPodAutoscalerCondition{}
}

func TestReconcileScalesUpThenStabilizesDown(t *testing.T) {
	v := fixture(t, 1, 1, false)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out, hist, err := Reconcile(v, hpaRef, cpuUsage(150), nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	v.Run(out)
	var s hpaState
	s.load(t, v)
	if *s.deploy.Spec.Replicas != 3 || s.deploy.Generation != 2 {
		t.Fatalf("deployment replicas %d generation %d, want 3 and 2", *s.deploy.Spec.Replicas, s.deploy.Generation)
	}
	st := s.hpa.Status
	if st.DesiredReplicas != 3 || st.CurrentReplicas != 1 || st.LastScaleTime == nil || !st.LastScaleTime.Time.Equal(t0) {
		t.Errorf("status = %+v", st)
	}
	if u := st.CurrentMetrics[0].Resource.Current.AverageUtilization; u == nil || *u != 150 {
		t.Errorf("currentMetrics = %+v", st.CurrentMetrics)
	}
	if c := cond(&s.hpa, autoscalingv2.AbleToScale); c.Reason != "SucceededRescale" {
		t.Errorf("AbleToScale = %+v", c)
	}
	if c := cond(&s.hpa, autoscalingv2.ScalingActive); c.Status != corev1.ConditionTrue || c.Reason != "ValidMetricFound" {
		t.Errorf("ScalingActive = %+v", c)
	}

	// Three pods, usage now low: the recommendation of 3 holds for the window.
	for _, p := range testPods(3, false) {
		p.Namespace, p.Labels = "default", map[string]string{"app": "web"}
		v.Put("pods", p)
	}
	low := cpuUsage(5, 5, 5)
	out, hist, _ = Reconcile(v, hpaRef, low, hist, t0.Add(60*time.Second))
	v.Run(out)
	s.load(t, v)
	if *s.deploy.Spec.Replicas != 3 {
		t.Errorf("scaled down within the stabilization window to %d", *s.deploy.Spec.Replicas)
	}
	if c := cond(&s.hpa, autoscalingv2.AbleToScale); c.Reason != "ScaleDownStabilized" {
		t.Errorf("AbleToScale = %+v, want ScaleDownStabilized", c)
	}
	// Same state again: nothing changes, nothing is written.
	out, hist, _ = Reconcile(v, hpaRef, low, hist, t0.Add(61*time.Second))
	for _, a := range out {
		if !a.Empty() {
			t.Errorf("unchanged state writes %s %s", a.Event.Type, a.Event.Ref)
		}
	}
	out, _, _ = Reconcile(v, hpaRef, low, hist, t0.Add(301*time.Second))
	v.Run(out)
	s.load(t, v)
	if *s.deploy.Spec.Replicas != 1 {
		t.Errorf("after the window replicas = %d, want 1", *s.deploy.Spec.Replicas)
	}
}

func TestReconcileMissingRequests(t *testing.T) {
	v := fixture(t, 1, 1, true)
	out, _, err := Reconcile(v, hpaRef, cpuUsage(150), nil, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	v.Run(out)
	var s hpaState
	s.load(t, v)
	if *s.deploy.Spec.Replicas != 1 {
		t.Errorf("scaled to %d without requests", *s.deploy.Spec.Replicas)
	}
	c := cond(&s.hpa, autoscalingv2.ScalingActive)
	if c.Status != corev1.ConditionFalse || c.Reason != "FailedGetResourceMetric" {
		t.Errorf("ScalingActive = %+v, want False FailedGetResourceMetric", c)
	}
}

func TestReconcileMissingTarget(t *testing.T) {
	v := reconciletest.NewView(t)
	put(v, hpaRef, &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "gone"},
			MaxReplicas:    3,
		},
	})
	out, _, err := Reconcile(v, hpaRef, nil, nil, time.Unix(1e9, 0))
	if err != nil {
		t.Fatal(err)
	}
	v.Run(out)
	var h autoscalingv2.HorizontalPodAutoscaler
	o, _ := v.Get(hpaRef)
	reconcile.DecodeInto(o, &h)
	if c := cond(&h, autoscalingv2.AbleToScale); c.Status != corev1.ConditionFalse || c.Reason != "FailedGetScale" {
		t.Errorf("AbleToScale = %+v", c)
	}
}
