package replicaset

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// fakeView is a reconcile.View over a projections.State fed directly.
type fakeView struct {
	t     *testing.T
	state *projections.State
}

func newView(t *testing.T) *fakeView { return &fakeView{t: t, state: projections.NewState()} }

func (v *fakeView) Get(ref events.Ref) (*projections.Object, bool) { return v.state.Get(ref) }
func (v *fakeView) List(g, r, ns string) ([]*projections.Object, uint64) {
	return v.state.List(g, r, ns), v.state.Seq()
}
func (v *fakeView) Seq() uint64 { return v.state.Seq() }

// put stores a typed object as created or updated.
func (v *fakeView) put(k string, obj runtime.Object) {
	v.t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		v.t.Fatal(err)
	}
	var m struct {
		metav1.ObjectMeta `json:"metadata"`
	}
	json.Unmarshal(data, &m)
	group, resource := "", k
	if k == "replicasets" {
		group = "apps"
	}
	ref := events.Ref{Group: group, Resource: resource, Namespace: m.Namespace, Name: m.Name}
	typ := events.ObjectCreated
	if _, ok := v.state.Get(ref); ok {
		typ = events.ObjectUpdated
	}
	v.apply(events.Event{Type: typ, Ref: ref, Data: data})
}

func (v *fakeView) apply(ev events.Event) {
	v.t.Helper()
	ev.Seq = v.state.Seq() + 1
	if _, err := v.state.Apply(ev); err != nil {
		v.t.Fatal(err)
	}
}

// run applies appends as the log would, checking their expectations.
func (v *fakeView) run(appends []reconcile.Append) {
	v.t.Helper()
	for _, a := range appends {
		cur, ok := v.state.Get(a.Event.Ref)
		if ok && cur.Seq != a.Expect || !ok && a.Expect != 0 {
			v.t.Fatalf("append to %s expects %d, object is at %v", a.Event.Ref, a.Expect, cur)
		}
		v.apply(a.Event)
	}
}

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func newRS(replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "rs-uid", Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "fe"}},
				Spec: corev1.PodSpec{
					Containers:    []corev1.Container{{Name: "c", Image: "nginx", ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: "File"}},
					RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
				},
			},
		},
	}
}

// pod options
type podOpt func(*corev1.Pod)

func node(n string) podOpt            { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func created(at time.Time) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(at) }
}
func withLabels(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }
func orphan() podOpt                        { return func(p *corev1.Pod) { p.OwnerReferences = nil } }
func ownedBy(uid string) podOpt {
	return func(p *corev1.Pod) { p.OwnerReferences[0].UID = types.UID(uid) }
}
func ready(at time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)}}
	}
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: n}}
	}
}

func pod(name string, opts ...podOpt) *corev1.Pod {
	rs := newRS(0)
	p := podFromTemplate(rs, "web-", name)
	p.UID = types.UID("uid-" + name)
	p.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour))
	p.Status.Phase = corev1.PodPending
	for _, o := range opts {
		o(p)
	}
	return p
}

func setup(t *testing.T, rs *appsv1.ReplicaSet, pods ...*corev1.Pod) *fakeView {
	v := newView(t)
	v.put("replicasets", rs)
	for _, p := range pods {
		v.put("pods", p)
	}
	return v
}

var rsKey = events.Ref{Group: "apps", Resource: "replicasets", Namespace: "default", Name: "web"}

// summary describes appends as "create pods/web-xxxxx", "delete pods/web-b"...
func summary(appends []reconcile.Append) []string {
	var out []string
	for _, a := range appends {
		verb := map[events.Type]string{events.ObjectCreated: "create", events.ObjectDeleted: "delete", events.ObjectUpdated: "update"}[a.Event.Type]
		if a.Event.Type == events.ObjectUpdated {
			verb += ":" + string(a.Event.Change)
		}
		name := a.Event.Ref.Name
		if a.Event.Type == events.ObjectCreated {
			name = "*"
		}
		out = append(out, fmt.Sprintf("%s %s/%s", verb, a.Event.Ref.Resource, name))
	}
	return out
}

func TestReconcile(t *testing.T) {
	now := t0
	tests := []struct {
		name string
		rs   *appsv1.ReplicaSet
		pods []*corev1.Pod
		want []string
	}{
		{"scale up from zero", newRS(3), nil,
			[]string{"create pods/*", "create pods/*", "create pods/*", "update:status replicasets/web"}},
		{"converged", newRS(1), []*corev1.Pod{pod("web-a", ready(t0))}, nil},
		{"scale down picks unscheduled, then pending, then not ready", newRS(2), []*corev1.Pod{
			pod("web-a", node("n1"), ready(t0)),
			pod("web-b", node("n1"), phase(corev1.PodRunning)),
			pod("web-c"),
			pod("web-d", node("n2"), phase(corev1.PodPending)),
			pod("web-e", node("n2"), ready(t0)),
		}, []string{"delete pods/web-c", "update:deletion pods/web-d", "update:deletion pods/web-b", "update:status replicasets/web"}},
		{"scale down: newer ready, then more restarts", newRS(1), []*corev1.Pod{
			pod("web-a", node("n1"), ready(t0.Add(-48*time.Hour)), restarts(1)),
			pod("web-b", node("n2"), ready(t0.Add(-48*time.Hour)), restarts(5)),
			pod("web-c", node("n3"), ready(t0.Add(-time.Minute))),
		}, []string{"update:deletion pods/web-c", "update:deletion pods/web-b", "update:status replicasets/web"}},
		{"adopt orphan, release mislabeled, ignore foreign", newRS(2), []*corev1.Pod{
			pod("web-a", ready(t0), orphan()),
			pod("web-b", ready(t0), withLabels(map[string]string{"app": "other"})),
			pod("web-c", ready(t0), ownedBy("other-rs")),
			pod("web-d", ready(t0)),
		}, []string{"update:metadata pods/web-a", "update:metadata pods/web-b", "update:status replicasets/web"}},
		{"finished and terminating pods do not count", newRS(2), []*corev1.Pod{
			pod("web-a", phase(corev1.PodSucceeded)),
			pod("web-b", ready(t0), func(p *corev1.Pod) { ts := metav1.NewTime(t0); p.DeletionTimestamp = &ts }),
			pod("web-c", ready(t0)),
		}, []string{"create pods/*", "update:status replicasets/web"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.rs
			rs.Status = appsv1.ReplicaSetStatus{}
			if tc.name == "converged" {
				zero := int32(0)
				rs.Status = appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 1, TerminatingReplicas: &zero}
			}
			v := setup(t, rs, tc.pods...)
			got, err := Reconcile(v, rsKey, now)
			if err != nil {
				t.Fatal(err)
			}
			if s := summary(got); !slices.Equal(s, tc.want) {
				t.Fatalf("got  %q\nwant %q", s, tc.want)
			}
			v.run(got)
		})
	}
}

func TestCreatedPods(t *testing.T) {
	v := setup(t, newRS(2))
	got, err := Reconcile(v, rsKey, t0)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Reconcile(v, rsKey, t0)
	if fmt.Sprint(summary(got)) != fmt.Sprint(summary(again)) || string(got[0].Event.Data) != string(again[0].Event.Data) {
		t.Fatal("Reconcile is not deterministic")
	}
	v.run(got)
	pods, _ := v.List("", "pods", "default")
	if len(pods) != 2 {
		t.Fatalf("%d pods", len(pods))
	}
	for _, o := range pods {
		var p corev1.Pod
		reconcile.DecodeInto(o, &p)
		ref := metav1.GetControllerOf(&p)
		switch {
		case !strings.HasPrefix(p.Name, "web-") || len(p.Name) != len("web-")+5 || p.GenerateName != "web-":
			t.Errorf("name %q generateName %q", p.Name, p.GenerateName)
		case ref == nil || ref.UID != "rs-uid" || ref.Kind != "ReplicaSet" || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion:
			t.Errorf("controller ref %+v", ref)
		case p.Labels["tier"] != "fe" || p.UID == "" || p.Spec.Containers[0].Image != "nginx":
			t.Errorf("pod %+v", p.ObjectMeta)
		}
	}
	var rs appsv1.ReplicaSet
	o, _ := v.Get(rsKey)
	reconcile.DecodeInto(o, &rs)
	if rs.Status.ObservedGeneration != 1 || rs.Status.Replicas != 0 {
		t.Fatalf("status %+v", rs.Status)
	}
	// The next round counts the new pods.
	next, _ := Reconcile(v, rsKey, t0)
	if s := summary(next); !slices.Equal(s, []string{"update:status replicasets/web"}) {
		t.Fatalf("second round %q", s)
	}
	v.run(next)
	o, _ = v.Get(rsKey)
	reconcile.DecodeInto(o, &rs)
	if rs.Status.Replicas != 2 || rs.Status.FullyLabeledReplicas != 2 || rs.Status.ReadyReplicas != 0 {
		t.Fatalf("status %+v", rs.Status)
	}
}

func TestAvailability(t *testing.T) {
	rs := newRS(3)
	rs.Spec.MinReadySeconds = 10
	v := setup(t, rs,
		pod("web-a", ready(t0.Add(-time.Minute))),
		pod("web-b", ready(t0.Add(-5*time.Second))),
		pod("web-c", phase(corev1.PodRunning)),
	)
	for _, tc := range []struct {
		now              time.Time
		ready, available int32
	}{{t0, 2, 1}, {t0.Add(6 * time.Second), 2, 2}} {
		got, _ := Reconcile(v, rsKey, tc.now)
		v.run(got)
		var cur appsv1.ReplicaSet
		o, _ := v.Get(rsKey)
		reconcile.DecodeInto(o, &cur)
		if cur.Status.ReadyReplicas != tc.ready || cur.Status.AvailableReplicas != tc.available || cur.Status.Replicas != 3 {
			t.Fatalf("at %v: status %+v", tc.now, cur.Status)
		}
		if !waitsForAvailability(&cur) != (tc.available == tc.ready) {
			t.Fatalf("waitsForAvailability wrong at %v", tc.now)
		}
	}
}

func TestKeys(t *testing.T) {
	rs := newRS(1)
	v := setup(t, rs)
	other := newRS(1)
	other.Name, other.UID = "db", "db-uid"
	other.Spec.Selector.MatchLabels = map[string]string{"app": "db"}
	v.put("replicasets", other)
	obj := func(p *corev1.Pod) *projections.Object {
		data, _ := json.Marshal(p)
		o, err := projections.BuildObject(events.Event{Ref: events.Ref{Resource: "pods", Namespace: "default", Name: p.Name}, Data: data, Seq: 99})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	dbKey := events.Ref{Group: "apps", Resource: "replicasets", Namespace: "default", Name: "db"}
	for _, tc := range []struct {
		name string
		ch   projections.Change
		want []events.Ref
	}{
		{"rs", projections.Change{Type: projections.Modified, Object: v.mustGet(rsKey)}, []events.Ref{rsKey}},
		{"owned pod", projections.Change{Type: projections.Added, Object: obj(pod("web-a"))}, []events.Ref{rsKey}},
		{"orphan pod", projections.Change{Type: projections.Added, Object: obj(pod("x", orphan(), withLabels(map[string]string{"app": "db"})))}, []events.Ref{dbKey}},
		{"pod changes owner", projections.Change{Type: projections.Modified, Prev: obj(pod("x")),
			Object: obj(pod("x", ownedBy("db-uid"), func(p *corev1.Pod) { p.OwnerReferences[0].Name = "db" }))}, []events.Ref{rsKey, dbKey}},
		{"namespace", projections.Change{Type: projections.Added, Object: &projections.Object{Ref: events.Ref{Resource: "namespaces", Name: "x"}}}, nil},
	} {
		if got := Keys(v, tc.ch); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}

func (v *fakeView) mustGet(ref events.Ref) *projections.Object {
	o, ok := v.Get(ref)
	if !ok {
		v.t.Fatalf("%s not found", ref)
	}
	return o
}
