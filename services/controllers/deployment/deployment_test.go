package deployment

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// world is a reconcile.View over a projections.State fed directly, with
// the log's expectation check.
type world struct {
	t     *testing.T
	state *projections.State
}

func (w *world) Get(ref events.Ref) (*projections.Object, bool) { return w.state.Get(ref) }
func (w *world) List(g, r, ns string) ([]*projections.Object, uint64) {
	return w.state.List(g, r, ns), w.state.Seq()
}
func (w *world) Seq() uint64 { return w.state.Seq() }

func (w *world) apply(appends []reconcile.Append) {
	w.t.Helper()
	for _, a := range appends {
		cur, ok := w.state.Get(a.Event.Ref)
		if ok && cur.Seq != a.Expect || !ok && a.Expect != 0 {
			w.t.Fatalf("append to %s expects %d, object is at %v", a.Event.Ref, a.Expect, cur)
		}
		ev := a.Event
		ev.Seq = w.state.Seq() + 1
		if _, err := w.state.Apply(ev); err != nil {
			w.t.Fatal(err)
		}
	}
}

var (
	t0  = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	key = events.Ref{Group: "apps", Resource: "deployments", Namespace: "default", Name: "web"}
)

func newWorld(t *testing.T, d *appsv1.Deployment) *world {
	w := &world{t: t, state: projections.NewState()}
	a, err := reconcile.Create(deploymentKind, d, t0.Add(-time.Hour), "d")
	if err != nil {
		t.Fatal(err)
	}
	w.apply([]reconcile.Append{a})
	return w
}

func dep(replicas int32, surge, unavailable string) *appsv1.Deployment {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "v1"}}},
			},
		},
	}
	if surge == "recreate" {
		d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
	} else if surge != "" {
		s, u := intstr.Parse(surge), intstr.Parse(unavailable)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u}}
	}
	return d
}

func (w *world) deployment() (*appsv1.Deployment, *projections.Object) {
	o, _ := w.state.Get(key)
	var d appsv1.Deployment
	reconcile.DecodeInto(o, &d)
	return &d, o
}

// edit changes the spec as the gateway would.
func (w *world) edit(f func(*appsv1.Deployment)) {
	d, o := w.deployment()
	f(d)
	d.Generation++
	a, err := reconcile.Update(deploymentKind, d, o, events.ChangeSpec)
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply([]reconcile.Append{a})
}

func (w *world) sync(now time.Time) {
	w.t.Helper()
	appends, err := Reconcile(w, key, now)
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(appends)
}

func (w *world) replicaSets() []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, o := range w.state.List("apps", "replicasets", "default") {
		var rs appsv1.ReplicaSet
		reconcile.DecodeInto(o, &rs)
		out = append(out, &rs)
	}
	sortByRevision(out)
	return out
}

// settle plays the ReplicaSet controller and the kubelet: every set runs
// spec.replicas pods, available when available says so.
func (w *world) settle(available bool) {
	for _, o := range w.state.List("apps", "replicasets", "default") {
		var rs appsv1.ReplicaSet
		reconcile.DecodeInto(o, &rs)
		n := *rs.Spec.Replicas
		rs.Status = appsv1.ReplicaSetStatus{Replicas: n, FullyLabeledReplicas: n, ObservedGeneration: rs.Generation}
		if available || rs.Status.Replicas == 0 {
			rs.Status.ReadyReplicas, rs.Status.AvailableReplicas = n, n
		} else if prev := w.availableBefore(o); prev <= n {
			rs.Status.ReadyReplicas, rs.Status.AvailableReplicas = prev, prev
		}
		a, _ := reconcile.Update(rsKind, &rs, o, events.ChangeStatus)
		w.apply([]reconcile.Append{a})
	}
}

func (w *world) availableBefore(o *projections.Object) int32 {
	var rs appsv1.ReplicaSet
	reconcile.DecodeInto(o, &rs)
	return rs.Status.AvailableReplicas
}

// sizes is "old/new" spec.replicas, by revision: "3/1" or "0/2".
func (w *world) sizes() string {
	s := ""
	for i, rs := range w.replicaSets() {
		if i > 0 {
			s += "/"
		}
		s += fmt.Sprint(*rs.Spec.Replicas)
	}
	return s
}

// TestRollingUpdateSteps follows upstream's documented fencepost examples
// (ResolveFenceposts): each step is one sync, then every pod becomes
// available.
func TestRollingUpdateSteps(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		replicas               int32
		surge, unavailable     string
		steps                  []string
		wantSurge, wantUnavail int32
	}{
		{"2 desired, unavailable 1%, surge 0%: old first", 2, "0%", "1%", []string{"1/0", "1/1", "0/1", "0/2", "0/2"}, 0, 1},
		{"2 desired, unavailable 25%, surge 1%: new first", 2, "1%", "25%", []string{"2/1", "1/1", "1/2", "0/2", "0/2"}, 1, 0},
		{"3 desired, defaults 25%/25%", 3, "25%", "25%", []string{"3/1", "2/1", "2/2", "1/2", "1/3", "0/3", "0/3"}, 1, 0},
		{"4 desired, surge 1, unavailable 1", 4, "1", "1", []string{"3/1", "3/2", "1/2", "1/4", "0/4", "0/4"}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, dep(tc.replicas, tc.surge, tc.unavailable))
			w.sync(t0)
			w.settle(true)
			d, _ := w.deployment()
			if MaxSurge(d) != tc.wantSurge || MaxUnavailable(d) != tc.wantUnavail {
				t.Fatalf("surge %d unavailable %d", MaxSurge(d), MaxUnavailable(d))
			}
			w.edit(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2" })
			var got []string
			for range tc.steps {
				w.sync(t0)
				got = append(got, w.sizes())
				w.settle(true)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.steps) {
				t.Fatalf("steps %v, want %v", got, tc.steps)
			}
			d, _ = w.deployment()
			w.sync(t0)
			d, _ = w.deployment()
			if d.Annotations[RevisionAnnotation] != "2" || d.Status.UpdatedReplicas != tc.replicas || d.Status.AvailableReplicas != tc.replicas ||
				d.Status.ObservedGeneration != d.Generation || getCondition(d.Status, appsv1.DeploymentProgressing).Reason != NewRSAvailableReason {
				t.Fatalf("status %+v annotations %v", d.Status, d.Annotations)
			}
		})
	}
}

func TestRecreate(t *testing.T) {
	w := newWorld(t, dep(3, "recreate", ""))
	w.sync(t0)
	w.settle(true)
	w.edit(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2" })
	w.sync(t0)
	if got := w.sizes(); got != "0" {
		t.Fatalf("first step %s: old sets go to zero before the new set exists", got)
	}
	w.sync(t0) // old pods still counted in status: wait
	if got := w.sizes(); got != "0" {
		t.Fatalf("waiting step %s", got)
	}
	w.settle(true)
	w.sync(t0)
	if got := w.sizes(); got != "0/3" {
		t.Fatalf("after old pods are gone %s", got)
	}
}

func TestPausedAndProportionalScaling(t *testing.T) {
	w := newWorld(t, dep(10, "3", "2"))
	w.sync(t0)
	w.settle(true)
	w.edit(func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "v2"
	})
	w.sync(t0) // new set up to the surge: 10/3
	w.settle(false)
	w.sync(t0) // old set down by maxUnavailable: 8/3
	w.settle(false)
	w.sync(t0) // new set up: 8/5
	w.settle(false)
	if got := w.sizes(); got != "8/5" {
		t.Fatalf("mid-rollout %s", got)
	}
	w.edit(func(d *appsv1.Deployment) { d.Spec.Paused = true })
	w.sync(t0)
	d, _ := w.deployment()
	if c := getCondition(d.Status, appsv1.DeploymentProgressing); c.Reason != PausedDeployReason || c.Status != corev1.ConditionUnknown {
		t.Fatalf("paused: Progressing %+v", c)
	}
	// Scaling a paused deployment spreads the new replicas in proportion
	// (upstream's documented example: 8/5 at 10 replicas, scaled to 15).
	w.edit(func(d *appsv1.Deployment) { fifteen := int32(15); d.Spec.Replicas = &fifteen })
	w.sync(t0)
	if got := w.sizes(); got != "11/7" {
		t.Fatalf("proportional scaling gave %s, want 11/7", got)
	}
	// A template change while paused starts nothing.
	w.edit(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v3" })
	w.sync(t0)
	if got := w.sizes(); got != "11/7" {
		t.Fatalf("paused deployment rolled: %s", got)
	}
	w.edit(func(d *appsv1.Deployment) { d.Spec.Paused = false })
	w.sync(t0)
	d, _ = w.deployment()
	if len(w.replicaSets()) != 3 || d.Annotations[RevisionAnnotation] != "3" {
		t.Fatalf("resumed: %d sets, revision %s", len(w.replicaSets()), d.Annotations[RevisionAnnotation])
	}
}

func TestProgressDeadline(t *testing.T) {
	w := newWorld(t, dep(2, "", ""))
	w.sync(t0)
	w.settle(false) // pods never become available
	for _, tc := range []struct {
		at     time.Duration
		reason string
		status corev1.ConditionStatus
	}{
		{0, ReplicaSetUpdatedReason, corev1.ConditionTrue}, // pods appeared: progress
		{600 * time.Second, ReplicaSetUpdatedReason, corev1.ConditionTrue},
		{601 * time.Second, TimedOutReason, corev1.ConditionFalse},
		{700 * time.Second, TimedOutReason, corev1.ConditionFalse},
	} {
		w.sync(t0.Add(tc.at))
		d, _ := w.deployment()
		c := getCondition(d.Status, appsv1.DeploymentProgressing)
		if c == nil || c.Reason != tc.reason || c.Status != tc.status {
			t.Fatalf("at +%v: Progressing %+v", tc.at, c)
		}
		if !deadlineRunning(d) != (tc.reason == TimedOutReason) {
			t.Fatalf("at +%v: deadlineRunning wrong", tc.at)
		}
		if a := getCondition(d.Status, appsv1.DeploymentAvailable); a.Reason != MinimumReplicasUnavailable {
			t.Fatalf("Available %+v", a)
		}
	}
}

func TestHistoryLimitAndRollback(t *testing.T) {
	d := dep(1, "", "")
	one := int32(1)
	d.Spec.RevisionHistoryLimit = &one
	w := newWorld(t, d)
	rollout := func(image string) {
		w.edit(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = image })
		for range 6 {
			w.sync(t0)
			w.settle(true)
		}
	}
	w.sync(t0)
	w.settle(true)
	rollout("v2")
	rollout("v3")
	rss := w.replicaSets()
	if len(rss) != 2 || rss[0].Spec.Template.Spec.Containers[0].Image != "v2" {
		t.Fatalf("after v3: %d sets (%s)", len(rss), w.sizes())
	}
	// kubectl rollout undo copies revision 2's template back.
	rollout("v2")
	rss = w.replicaSets()
	last := rss[len(rss)-1]
	if last.Spec.Template.Spec.Containers[0].Image != "v2" || last.Annotations[RevisionAnnotation] != "4" ||
		last.Annotations[RevisionHistoryAnnotation] != "2" || *last.Spec.Replicas != 1 {
		t.Fatalf("rolled back set %s: %v", last.Name, last.Annotations)
	}
	if dd, _ := w.deployment(); dd.Annotations[RevisionAnnotation] != "4" {
		t.Fatalf("deployment revision %v", dd.Annotations)
	}
}

func TestComputeHashAndCollision(t *testing.T) {
	d := dep(1, "", "")
	h0, h1 := ComputeHash(&d.Spec.Template, nil), ComputeHash(&d.Spec.Template, new(int32))
	if h0 == h1 || h0 != ComputeHash(&d.Spec.Template, nil) {
		t.Fatalf("hashes %s %s", h0, h1)
	}
	w := newWorld(t, d)
	cur, _ := w.deployment()
	// Someone else's ReplicaSet holds the name.
	squatter := &appsv1.ReplicaSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "web-" + ComputeHash(&cur.Spec.Template, nil), Namespace: "default"},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"x": "y"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"x": "y"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}},
	}
	a, err := reconcile.Create(rsKind, squatter, t0, "squatter")
	if err != nil {
		t.Fatal(err)
	}
	w.apply([]reconcile.Append{a})
	w.sync(t0)
	cur, _ = w.deployment()
	if cur.Status.CollisionCount == nil || *cur.Status.CollisionCount != 1 {
		t.Fatalf("collisionCount %v", cur.Status.CollisionCount)
	}
	w.sync(t0)
	if len(w.replicaSets()) != 2 {
		t.Fatal("no new set after the collision")
	}
}

func TestReconcileIsDeterministic(t *testing.T) {
	w := newWorld(t, dep(3, "", ""))
	a, _ := Reconcile(w, key, t0)
	b, _ := Reconcile(w, key, t0)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) || len(a) != 2 {
		t.Fatalf("%d appends; equal %v", len(a), string(ja) == string(jb))
	}
}
