package statefulset

import (
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type world struct {
	t  *testing.T
	st *projections.State
}

func (w *world) Get(ref events.Ref) (*projections.Object, bool) { return w.st.Get(ref) }
func (w *world) List(g, r, ns string) ([]*projections.Object, uint64) {
	return w.st.List(g, r, ns), w.st.Seq()
}
func (w *world) Seq() uint64 { return w.st.Seq() }

func (w *world) apply(as ...reconcile.Append) {
	w.t.Helper()
	for _, a := range as {
		var have uint64
		if o, ok := w.st.Get(a.Event.Ref); ok {
			have = o.Seq
		}
		if have != a.Expect {
			w.t.Fatalf("%s %s expects %d, object is at %d", a.Event.Type, a.Event.Ref, a.Expect, have)
		}
		ev := a.Event
		ev.Seq = w.st.Seq() + 1
		if _, err := w.st.Apply(ev); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) create(k kinds.Kind, obj runtime.Object) {
	a, err := reconcile.Create(k, obj, t0, "test")
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(a)
}

var key = events.Ref{Group: "apps", Resource: "statefulsets", Namespace: "default", Name: "web"}

func (w *world) reconcile() {
	w.t.Helper()
	as, err := Reconcile(w, key, t0)
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(as...)
}

func (w *world) set() *appsv1.StatefulSet {
	o, _ := w.st.Get(key)
	var s appsv1.StatefulSet
	_ = reconcile.DecodeInto(o, &s)
	return &s
}

func (w *world) edit(f func(*appsv1.StatefulSet)) {
	o, _ := w.st.Get(key)
	s := w.set()
	f(s)
	s.Generation++
	a, err := reconcile.Update(setKind, s, o, events.ChangeSpec)
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(a)
}

func (w *world) pods() map[string]*corev1.Pod {
	out := map[string]*corev1.Pod{}
	for _, o := range w.st.List("", "pods", "default") {
		var p corev1.Pod
		_ = reconcile.DecodeInto(o, &p)
		out[p.Name] = &p
	}
	return out
}

// names lists the pods as name@image, sorted.
func (w *world) names() string {
	var out []string
	for n, p := range w.pods() {
		out = append(out, n+"@"+p.Spec.Containers[0].Image)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// ready is the fake kubelet: every pod becomes Running and Ready.
func (w *world) ready() {
	for _, o := range w.st.List("", "pods", "default") {
		var p corev1.Pod
		_ = reconcile.DecodeInto(o, &p)
		if p.Status.Phase == corev1.PodRunning {
			continue
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
		a, _ := reconcile.Update(podKind, &p, o, events.ChangeStatus)
		w.apply(a)
	}
}

func newWorld(t *testing.T, tune func(*appsv1.StatefulSet)) *world {
	w := &world{t: t, st: projections.NewState()}
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To[int32](3),
			ServiceName: "nginx",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1"}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
	if tune != nil {
		tune(s)
	}
	w.create(setKind, s)
	return w
}

func TestOrderedStart(t *testing.T) {
	w := newWorld(t, nil)
	for _, want := range []string{
		"web-0@nginx:1",
		"web-0@nginx:1 web-1@nginx:1",
		"web-0@nginx:1 web-1@nginx:1 web-2@nginx:1",
	} {
		w.reconcile()
		w.reconcile() // nothing more until the new pod is Running and Ready
		if got := w.names(); got != want {
			t.Fatalf("pods %q, want %q", got, want)
		}
		w.ready()
	}
	w.reconcile()
	p := w.pods()["web-1"]
	s := w.set()
	for k, v := range map[string]string{"app": "web", podNameLabel: "web-1", podIndexLabel: "1", appsv1.ControllerRevisionHashLabelKey: s.Status.UpdateRevision} {
		if p.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, p.Labels[k], v)
		}
	}
	if p.Spec.Hostname != "web-1" || p.Spec.Subdomain != "nginx" {
		t.Errorf("hostname %q subdomain %q", p.Spec.Hostname, p.Spec.Subdomain)
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-web-1" {
		t.Errorf("volumes %+v", p.Spec.Volumes)
	}
	if c := metav1.GetControllerOf(p); c == nil || c.UID != s.UID || !ptr.Deref(c.BlockOwnerDeletion, false) {
		t.Errorf("controller %+v", c)
	}
	for _, n := range []string{"data-web-0", "data-web-1", "data-web-2"} {
		o, ok := w.st.Get(events.Ref{Resource: "persistentvolumeclaims", Namespace: "default", Name: n})
		if !ok {
			t.Errorf("no PVC %s", n)
			continue
		}
		var c corev1.PersistentVolumeClaim
		_ = reconcile.DecodeInto(o, &c)
		if c.Labels["app"] != "web" || len(c.OwnerReferences) != 0 {
			t.Errorf("PVC %s labels %v owners %v (Retain keeps no owner)", n, c.Labels, c.OwnerReferences)
		}
	}
	st := s.Status
	if st.Replicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.CurrentReplicas != 3 || st.UpdatedReplicas != 3 ||
		st.CurrentRevision == "" || st.CurrentRevision != st.UpdateRevision || st.ObservedGeneration != s.Generation {
		t.Errorf("status %+v", st)
	}
	if revs := w.st.List("apps", "controllerrevisions", "default"); len(revs) != 1 || revs[0].Ref.Name != st.UpdateRevision {
		t.Errorf("revisions %v", revs)
	}
}

func TestParallelStart(t *testing.T) {
	w := newWorld(t, func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement })
	w.reconcile()
	if got := w.names(); got != "web-0@nginx:1 web-1@nginx:1 web-2@nginx:1" {
		t.Fatalf("pods %q", got)
	}
}

func TestOrderedScaleDown(t *testing.T) {
	w := newWorld(t, nil)
	for range 3 {
		w.reconcile()
		w.ready()
	}
	w.edit(func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
	w.reconcile()
	if got := w.names(); got != "web-0@nginx:1 web-1@nginx:1" {
		t.Fatalf("after one step: %q", got)
	}
	w.reconcile()
	if got := w.names(); got != "web-0@nginx:1" {
		t.Fatalf("after two steps: %q", got)
	}
	if _, ok := w.st.Get(events.Ref{Resource: "persistentvolumeclaims", Namespace: "default", Name: "data-web-2"}); !ok {
		t.Error("Retain deleted the PVC of a removed ordinal")
	}
}

func TestPartitionedRollingUpdate(t *testing.T) {
	w := newWorld(t, nil)
	for range 3 {
		w.reconcile()
		w.ready()
	}
	w.reconcile()
	oldRev := w.set().Status.CurrentRevision
	w.edit(func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Containers[0].Image = "nginx:2"
		s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](1)
	})
	steps := []string{
		"web-0@nginx:1 web-1@nginx:1",               // web-2 deleted
		"web-0@nginx:1 web-1@nginx:1 web-2@nginx:2", // recreated at the update revision
		"web-0@nginx:1 web-2@nginx:2",               // then web-1
		"web-0@nginx:1 web-1@nginx:2 web-2@nginx:2", // web-0 is below the partition
		"web-0@nginx:1 web-1@nginx:2 web-2@nginx:2",
	}
	for i, want := range steps {
		w.reconcile()
		if got := w.names(); got != want {
			t.Fatalf("step %d: %q, want %q", i, got, want)
		}
		w.ready()
	}
	st := w.set().Status
	if st.CurrentRevision != oldRev || st.UpdateRevision == oldRev || st.CurrentReplicas != 1 || st.UpdatedReplicas != 2 {
		t.Fatalf("partitioned status %+v", st)
	}
	if revs := w.st.List("apps", "controllerrevisions", "default"); len(revs) != 2 {
		t.Errorf("%d revisions, want 2", len(revs))
	}
	// A replacement of web-0 keeps the current revision below the partition.
	o, _ := w.st.Get(events.Ref{Resource: "pods", Namespace: "default", Name: "web-0"})
	a, _ := reconcile.Delete(podKind, o, t0)
	w.apply(a)
	w.reconcile()
	if got := w.names(); got != "web-0@nginx:1 web-1@nginx:2 web-2@nginx:2" {
		t.Fatalf("recreated below partition: %q", got)
	}
	w.ready()
	w.edit(func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0) })
	for range 3 {
		w.reconcile()
		w.ready()
	}
	w.reconcile()
	st = w.set().Status
	if got := w.names(); got != "web-0@nginx:2 web-1@nginx:2 web-2@nginx:2" || st.CurrentRevision != st.UpdateRevision || st.CurrentReplicas != 3 {
		t.Fatalf("after the rollout: %q, status %+v", got, st)
	}
}

func TestRollbackReusesRevision(t *testing.T) {
	w := newWorld(t, func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To[int32](1) })
	w.reconcile()
	w.ready()
	w.reconcile()
	first := w.set().Status.UpdateRevision
	w.edit(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
	w.reconcile()
	w.edit(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "nginx:1" })
	w.reconcile()
	if got := w.set().Status.UpdateRevision; got != first {
		t.Fatalf("rollback made revision %s, want %s again", got, first)
	}
	o, _ := w.st.Get(events.Ref{Group: "apps", Resource: "controllerrevisions", Namespace: "default", Name: first})
	var cr appsv1.ControllerRevision
	_ = reconcile.DecodeInto(o, &cr)
	if cr.Revision != 3 {
		t.Errorf("rolled-back revision number %d, want 3", cr.Revision)
	}
}
