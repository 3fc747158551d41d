package daemonset

import (
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

var (
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key      = events.Ref{Group: "apps", Resource: "daemonsets", Namespace: "default", Name: "agent"}
	nodeKind = reconcile.MustKind("", "nodes")
)

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
	w.t.Helper()
	a, err := reconcile.Create(k, obj, t0, "test")
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(a)
}

func (w *world) reconcile() {
	w.t.Helper()
	as, err := Reconcile(w, key, t0)
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(as...)
	w.finishDeletions()
}

// finishDeletions is the nodes' agents: pods marked for graceful deletion
// are stopped and removed.
func (w *world) finishDeletions() {
	for _, o := range w.st.List("", "pods", "default") {
		var p corev1.Pod
		_ = reconcile.DecodeInto(o, &p)
		if p.DeletionTimestamp != nil {
			w.apply(reconcile.Append{Event: events.Event{Type: events.ObjectDeleted, Ref: o.Ref, Data: o.Raw}, Expect: o.Seq})
		}
	}
}

func (w *world) edit(f func(*appsv1.DaemonSet)) {
	o, _ := w.st.Get(key)
	var ds appsv1.DaemonSet
	_ = reconcile.DecodeInto(o, &ds)
	f(&ds)
	ds.Generation++
	a, _ := reconcile.Update(dsKind, &ds, o, events.ChangeSpec)
	w.apply(a)
}

func (w *world) ds() *appsv1.DaemonSet {
	o, _ := w.st.Get(key)
	var ds appsv1.DaemonSet
	_ = reconcile.DecodeInto(o, &ds)
	return &ds
}

func (w *world) pods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, o := range w.st.List("", "pods", "default") {
		var p corev1.Pod
		_ = reconcile.DecodeInto(o, &p)
		out = append(out, &p)
	}
	return out
}

// layout lists node=image for every pod, sorted.
func (w *world) layout() string {
	var out []string
	for _, p := range w.pods() {
		out = append(out, targetNode(p)+"="+p.Spec.Containers[0].Image)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// ready is the fake scheduler and kubelet: pods are bound where they aim
// and become Running and Ready.
func (w *world) ready() {
	for _, o := range w.st.List("", "pods", "default") {
		var p corev1.Pod
		_ = reconcile.DecodeInto(o, &p)
		if p.Status.Phase == corev1.PodRunning {
			continue
		}
		p.Spec.NodeName = targetNode(&p)
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
		a, _ := reconcile.Update(podKind, &p, o, events.ChangeStatus)
		w.apply(a)
	}
}

func node(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

func newWorld(t *testing.T, tune func(*appsv1.DaemonSet), nodes ...*corev1.Node) *world {
	w := &world{t: t, st: projections.NewState()}
	for _, n := range nodes {
		w.create(nodeKind, n)
	}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "agent:1"}}},
			},
		},
	}
	if tune != nil {
		tune(ds)
	}
	w.create(dsKind, ds)
	return w
}

func plainNodes(n int) []*corev1.Node {
	var out []*corev1.Node
	for i := range n {
		out = append(out, node("n"+string(rune('1'+i)), nil))
	}
	return out
}

func TestEligibleNodes(t *testing.T) {
	nodes := []*corev1.Node{
		node("plain", nil),
		node("ssd", map[string]string{"disk": "ssd"}),
		node("dedicated", nil, corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}),
		node("cordoned", nil, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}),
		node("notready", nil, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}),
		node("evicting", nil, corev1.Taint{Key: "maint", Effect: corev1.TaintEffectNoExecute}),
	}
	tests := []struct {
		name string
		tune func(*appsv1.DaemonSet)
		want string
	}{
		{"daemon tolerations only", nil, "cordoned=agent:1 notready=agent:1 plain=agent:1 ssd=agent:1"},
		{"node selector", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} }, "ssd=agent:1"},
		{"required node affinity", func(ds *appsv1.DaemonSet) {
			ds.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpDoesNotExist}},
				}}},
			}}
		}, "cordoned=agent:1 notready=agent:1 plain=agent:1"},
		{"toleration of a dedicated node", func(ds *appsv1.DaemonSet) {
			ds.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule}}
		}, "cordoned=agent:1 dedicated=agent:1 notready=agent:1 plain=agent:1 ssd=agent:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.tune, nodes...)
			w.reconcile()
			if got := w.layout(); got != tt.want {
				t.Fatalf("pods %q, want %q", got, tt.want)
			}
			w.reconcile()
			if got := w.layout(); got != tt.want {
				t.Fatalf("second pass changed the pods: %q", got)
			}
			ds := w.ds()
			n := int32(strings.Count(tt.want, "="))
			if ds.Status.DesiredNumberScheduled != n || ds.Status.CurrentNumberScheduled != n || ds.Status.NumberReady != 0 || ds.Status.NumberUnavailable != n {
				t.Errorf("status %+v", ds.Status)
			}
		})
	}
}

func TestPodShape(t *testing.T) {
	w := newWorld(t, nil, node("n1", nil))
	w.reconcile()
	p := w.pods()[0]
	ds := w.ds()
	aff := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if p.Spec.NodeName != "" || len(aff) != 1 || aff[0].MatchFields[0].Key != "metadata.name" || aff[0].MatchFields[0].Values[0] != "n1" {
		t.Errorf("nodeName %q affinity %+v", p.Spec.NodeName, aff)
	}
	tol := map[string]corev1.TaintEffect{}
	for _, x := range p.Spec.Tolerations {
		tol[x.Key] = x.Effect
	}
	for k, e := range map[string]corev1.TaintEffect{
		corev1.TaintNodeNotReady: corev1.TaintEffectNoExecute, corev1.TaintNodeUnreachable: corev1.TaintEffectNoExecute,
		corev1.TaintNodeDiskPressure: corev1.TaintEffectNoSchedule, corev1.TaintNodeMemoryPressure: corev1.TaintEffectNoSchedule,
		corev1.TaintNodePIDPressure: corev1.TaintEffectNoSchedule, corev1.TaintNodeUnschedulable: corev1.TaintEffectNoSchedule,
	} {
		if tol[k] != e {
			t.Errorf("toleration %s = %q, want %q", k, tol[k], e)
		}
	}
	revs := w.st.List("apps", "controllerrevisions", "default")
	if len(revs) != 1 || revs[0].Ref.Name != "agent-"+p.Labels[appsv1.ControllerRevisionHashLabelKey] || p.Labels[podTemplateGenerationLabel] != "1" {
		t.Errorf("revisions %v, pod labels %v", revs, p.Labels)
	}
	if c := metav1.GetControllerOf(p); c == nil || c.UID != ds.UID || !ptr.Deref(c.BlockOwnerDeletion, false) {
		t.Errorf("controller %+v", c)
	}
}

func TestRollingUpdateMaxUnavailable(t *testing.T) {
	w := newWorld(t, nil, plainNodes(3)...)
	w.reconcile()
	w.ready()
	w.reconcile()
	if st := w.ds().Status; st.NumberReady != 3 || st.NumberAvailable != 3 || st.UpdatedNumberScheduled != 3 {
		t.Fatalf("status %+v", st)
	}
	w.edit(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" })
	steps := []string{
		"n2=agent:1 n3=agent:1",            // one old pod goes (maxUnavailable 1)
		"n1=agent:2 n2=agent:1 n3=agent:1", // its replacement comes
		"n1=agent:2 n3=agent:1",            // once it is ready, the next
		"n1=agent:2 n2=agent:2 n3=agent:1",
		"n1=agent:2 n2=agent:2",
		"n1=agent:2 n2=agent:2 n3=agent:2",
	}
	for i, want := range steps {
		w.reconcile()
		if got := w.layout(); got != want {
			t.Fatalf("step %d: %q, want %q", i, got, want)
		}
		if i%2 == 1 {
			w.reconcile() // not ready yet: nothing more
			if got := w.layout(); got != want {
				t.Fatalf("step %d went on before the new pod was ready: %q", i, got)
			}
			w.ready()
		}
	}
	w.reconcile()
	if st := w.ds().Status; st.UpdatedNumberScheduled != 3 || st.NumberAvailable != 3 {
		t.Errorf("status %+v", st)
	}
	if revs := w.st.List("apps", "controllerrevisions", "default"); len(revs) != 2 {
		t.Errorf("%d revisions, want 2", len(revs))
	}
}

func TestRollingUpdateMaxSurge(t *testing.T) {
	w := newWorld(t, func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType, RollingUpdate: &appsv1.RollingUpdateDaemonSet{
			MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1)),
		}}
	}, plainNodes(2)...)
	w.reconcile()
	w.ready()
	w.edit(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" })
	for i, want := range []string{
		"n1=agent:1 n1=agent:2 n2=agent:1", // surge on n1
		"n1=agent:1 n1=agent:2 n2=agent:1", // wait for it
	} {
		w.reconcile()
		if got := w.layout(); got != want {
			t.Fatalf("step %d: %q, want %q", i, got, want)
		}
	}
	w.ready()
	w.reconcile()
	if got := w.layout(); got != "n1=agent:2 n2=agent:1 n2=agent:2" {
		t.Fatalf("after surge: %q", got)
	}
}

func TestTaintsOnRunningPods(t *testing.T) {
	w := newWorld(t, nil, plainNodes(2)...)
	w.reconcile()
	w.ready()
	taint := func(name string, effect corev1.TaintEffect) {
		o, _ := w.st.Get(events.Ref{Resource: "nodes", Name: name})
		var n corev1.Node
		_ = reconcile.DecodeInto(o, &n)
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "x", Effect: effect})
		a, _ := reconcile.Update(nodeKind, &n, o, events.ChangeSpec)
		w.apply(a)
	}
	taint("n1", corev1.TaintEffectNoSchedule)
	taint("n2", corev1.TaintEffectNoExecute)
	w.reconcile()
	// n1's pod may stay (NoSchedule); n2's is evicted: deletion requested, the agent finishes it.
	var live []string
	for _, p := range w.pods() {
		if p.DeletionTimestamp == nil {
			live = append(live, p.Spec.NodeName)
		}
	}
	if strings.Join(live, ",") != "n1" {
		t.Fatalf("live pods on %v, want n1", live)
	}
	w.reconcile()
	if st := w.ds().Status; st.DesiredNumberScheduled != 0 || st.NumberMisscheduled != 1 {
		t.Errorf("status %+v", st)
	}
}

func TestOnDelete(t *testing.T) {
	w := newWorld(t, func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	}, plainNodes(2)...)
	w.reconcile()
	w.ready()
	w.edit(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" })
	w.reconcile()
	if got := w.layout(); got != "n1=agent:1 n2=agent:1" {
		t.Fatalf("OnDelete replaced pods: %q", got)
	}
	p := w.pods()[0]
	o, _ := w.st.Get(events.Ref{Resource: "pods", Namespace: "default", Name: p.Name})
	a, _ := reconcile.Delete(podKind, o, t0)
	w.apply(a)
	// The pod was bound, so it terminates gracefully: its agent removes it.
	o, _ = w.st.Get(o.Ref)
	w.apply(reconcile.Append{Event: events.Event{Type: events.ObjectDeleted, Ref: o.Ref, Data: o.Raw}, Expect: o.Seq})
	w.reconcile()
	if got := w.layout(); got != "n1=agent:2 n2=agent:1" && got != "n1=agent:1 n2=agent:2" {
		t.Fatalf("after deleting one: %q", got)
	}
}
