package garbagecollector

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// obj is a test object: its kind and the typed value.
type obj struct {
	kind kinds.Kind
	v    runtime.Object
}

func (o obj) meta() *metav1.ObjectMeta {
	switch v := o.v.(type) {
	case *corev1.ConfigMap:
		return &v.ObjectMeta
	case *corev1.Pod:
		return &v.ObjectMeta
	case *corev1.Node:
		return &v.ObjectMeta
	case *appsv1.ReplicaSet:
		return &v.ObjectMeta
	case *appsv1.Deployment:
		return &v.ObjectMeta
	}
	panic("unknown test object")
}

func (o obj) ref() events.Ref { return reconcile.RefOf(o.kind, o.meta()) }

func om(ns, name string, owners ...metav1.OwnerReference) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), OwnerReferences: owners}
}

func cm(name string, owners ...metav1.OwnerReference) obj {
	return obj{reconcile.MustKind("", "configmaps"), &corev1.ConfigMap{ObjectMeta: om("default", name, owners...)}}
}
func pod(name string, owners ...metav1.OwnerReference) obj {
	return obj{reconcile.MustKind("", "pods"), &corev1.Pod{ObjectMeta: om("default", name, owners...)}}
}
func rs(name string, owners ...metav1.OwnerReference) obj {
	return obj{reconcile.MustKind("apps", "replicasets"), &appsv1.ReplicaSet{ObjectMeta: om("default", name, owners...)}}
}
func deploy(name string) obj {
	return obj{reconcile.MustKind("apps", "deployments"), &appsv1.Deployment{ObjectMeta: om("default", name)}}
}
func node(name string) obj {
	return obj{reconcile.MustKind("", "nodes"), &corev1.Node{ObjectMeta: om("", name)}}
}

// terminating marks o deleted with the given finalizers.
func terminating(o obj, finalizers ...string) obj {
	m := o.meta()
	ts := metav1.NewTime(now.Add(-time.Minute))
	m.DeletionTimestamp = &ts
	m.Finalizers = finalizers
	return o
}

// own is a reference to owner; block sets blockOwnerDeletion.
func own(owner obj, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: owner.kind.APIVersion(), Kind: owner.kind.Kind, Name: owner.meta().Name, UID: owner.meta().UID, BlockOwnerDeletion: &block}
}

// gone is a reference to an owner that does not exist.
func gone(kind, name string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "apps/v1", Kind: kind, Name: name, UID: "uid-gone-" + types.UID(name)}
}

// world builds a projection (the real fold) and a graph from objects.
func world(t *testing.T, objs ...obj) (View, *projections.Projection, *Graph) {
	t.Helper()
	p := projections.New(projections.Options{})
	for i, o := range objs {
		o.v.GetObjectKind().SetGroupVersionKind(o.kind.GVK())
		data, err := json.Marshal(o.v)
		if err != nil {
			t.Fatal(err)
		}
		p.Apply(events.Event{Seq: uint64(i + 1), Type: events.ObjectCreated, Ref: o.ref(), APIVersion: o.kind.APIVersion(), Kind: o.kind.Kind, Data: data})
	}
	g := NewGraph()
	g.Rebuild(p)
	return graphView{View: p, Graph: g}, p, g
}

// outcome is a compact form of one decision.
type outcome struct {
	Type       events.Type
	Change     events.Change
	Name       string
	Owners     []string // owner names after
	Finalizers []string
	Blocking   []string // owners still blocked
}

func summarize(t *testing.T, as []reconcile.Append) []outcome {
	t.Helper()
	var out []outcome
	for _, a := range as {
		var m struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(a.Event.Data, &m); err != nil {
			t.Fatal(err)
		}
		o := outcome{Type: a.Event.Type, Change: a.Event.Change, Name: a.Event.Ref.Name, Finalizers: m.Metadata.Finalizers}
		for _, r := range m.Metadata.OwnerReferences {
			o.Owners = append(o.Owners, r.Name)
			if r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
				o.Blocking = append(o.Blocking, r.Name)
			}
		}
		out = append(out, o)
	}
	return out
}

func TestReconcile(t *testing.T) {
	d := deploy("web")
	dFg := terminating(deploy("web"), FinalizerForeground)
	dOrphan := terminating(deploy("web"), FinalizerOrphan)
	other := deploy("other")
	n1 := node("n1")
	for _, tc := range []struct {
		name string
		objs []obj
		key  obj
		want []outcome
	}{
		{"owner present: keep", []obj{d, rs("web-1", own(d, true))}, rs("web-1"), nil},
		{"owner gone: delete", []obj{rs("web-1", gone("Deployment", "web"))}, rs("web-1"),
			[]outcome{{Type: events.ObjectDeleted, Name: "web-1", Owners: []string{"web"}}}},
		{"owner recreated with another uid: delete",
			[]obj{d, rs("web-1", metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "old"})}, rs("web-1"),
			[]outcome{{Type: events.ObjectDeleted, Name: "web-1", Owners: []string{"web"}}}},
		{"one solid one dangling: drop the dangling ref", []obj{d, cm("c", own(d, false), gone("ReplicaSet", "x"))}, cm("c"),
			[]outcome{{Type: events.ObjectUpdated, Change: events.ChangeMetadata, Name: "c", Owners: []string{"web"}}}},
		{"owner of a kind wake does not serve: keep",
			[]obj{cm("c", metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "Widget", Name: "w", UID: "u"})}, cm("c"), nil},
		{"cluster-scoped owner present: keep", []obj{n1, pod("p", own(n1, false))}, pod("p"), nil},
		{"cluster-scoped owner gone: delete", []obj{pod("p", metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: "n1", UID: "u"})}, pod("p"),
			[]outcome{{Type: events.ObjectDeleted, Name: "p", Owners: []string{"n1"}}}},
		{"dependent with finalizers: only marked", []obj{terminatingFree(cm("c", gone("ReplicaSet", "x")), "keep")}, cm("c"),
			[]outcome{{Type: events.ObjectUpdated, Change: events.ChangeDeletion, Name: "c", Owners: []string{"x"}, Finalizers: []string{"keep"}}}},
		{"already terminating dependent: leave it", []obj{terminating(cm("c", gone("ReplicaSet", "x")), "keep")}, cm("c"), nil},

		{"orphan: dependents lose the ref", []obj{dOrphan, rs("web-1", own(d, true)), cm("c", own(d, false), own(other, false)), other}, dOrphan,
			[]outcome{
				{Type: events.ObjectUpdated, Change: events.ChangeMetadata, Name: "web-1"}, // subject order: apps before core
				{Type: events.ObjectUpdated, Change: events.ChangeMetadata, Name: "c", Owners: []string{"other"}},
			}},
		{"orphan done: finalizer removed, owner deleted", []obj{dOrphan, rs("web-1")}, dOrphan,
			[]outcome{{Type: events.ObjectDeleted, Name: "web"}}},
		{"orphan done, other finalizer holds", []obj{terminating(deploy("web"), "x/y", FinalizerOrphan)}, dOrphan,
			[]outcome{{Type: events.ObjectUpdated, Change: events.ChangeMetadata, Name: "web", Finalizers: []string{"x/y"}}}},

		{"foreground: dependent with dependents goes foreground, leaf goes",
			[]obj{dFg, rs("web-1", own(d, true)), pod("web-1-a", own(rs("web-1"), true)), cm("leaf", own(d, true))}, dFg,
			[]outcome{
				{Type: events.ObjectUpdated, Change: events.ChangeDeletion, Name: "web-1", Owners: []string{"web"}, Finalizers: []string{FinalizerForeground}, Blocking: []string{"web"}},
				{Type: events.ObjectDeleted, Name: "leaf", Owners: []string{"web"}, Blocking: []string{"web"}},
			}},
		{"foreground: dependent of a foreground dependent", []obj{terminating(rs("web-1", own(d, true)), FinalizerForeground), pod("web-1-a", own(rs("web-1"), true))}, pod("web-1-a"),
			[]outcome{{Type: events.ObjectDeleted, Name: "web-1-a", Owners: []string{"web-1"}, Blocking: []string{"web-1"}}}},
		{"foreground: waits for a terminating blocking dependent", []obj{dFg, terminating(rs("web-1", own(d, true)), FinalizerForeground)}, dFg, nil},
		{"foreground: non-blocking dependents do not hold the owner once marked", []obj{dFg, terminating(cm("c", own(d, false)), "keep")}, dFg,
			[]outcome{{Type: events.ObjectDeleted, Name: "web"}}},
		{"foreground: dependent with another solid owner is unblocked", []obj{dFg, other, cm("c", own(d, true), own(other, false))}, dFg,
			[]outcome{{Type: events.ObjectUpdated, Change: events.ChangeMetadata, Name: "c", Owners: []string{"web", "other"}}}},
		{"foreground: no dependents left, owner deleted", []obj{dFg}, dFg,
			[]outcome{{Type: events.ObjectDeleted, Name: "web"}}},
		{"terminating without policy finalizer: nothing", []obj{terminating(deploy("web"), "x/y"), rs("web-1", own(d, true))}, d, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			view, _, _ := world(t, tc.objs...)
			got, err := Reconcile(view, tc.key.ref(), now)
			if err != nil {
				t.Fatal(err)
			}
			sum := summarize(t, got)
			if !equalOutcomes(sum, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", sum, tc.want)
			}
			for _, a := range got {
				cur, _ := view.Get(a.Event.Ref)
				if a.Expect != cur.Seq {
					t.Errorf("%s expects %d, object is at %d", a.Event.Ref, a.Expect, cur.Seq)
				}
			}
			// Pure: the same view gives the same decision.
			again, _ := Reconcile(view, tc.key.ref(), now)
			if !equalOutcomes(summarize(t, again), sum) {
				t.Fatal("not deterministic")
			}
		})
	}
}

// terminatingFree sets finalizers without a deletion timestamp.
func terminatingFree(o obj, finalizers ...string) obj {
	o.meta().Finalizers = finalizers
	return o
}

func equalOutcomes(a, b []outcome) bool {
	return slices.EqualFunc(a, b, func(x, y outcome) bool {
		return x.Type == y.Type && x.Change == y.Change && x.Name == y.Name &&
			slices.Equal(x.Owners, y.Owners) && slices.Equal(x.Finalizers, y.Finalizers) && slices.Equal(x.Blocking, y.Blocking)
	})
}

func TestGraphObserveConverges(t *testing.T) {
	d := deploy("web")
	_, p, g := world(t, d, rs("a", own(d, true)), rs("b", own(d, true)))
	w, _ := p.Watch(p.Seq())
	// b loses its owner, a is deleted.
	data, _ := json.Marshal(rs("b").v)
	p.Apply(events.Event{Seq: 4, Type: events.ObjectUpdated, Change: events.ChangeMetadata, Ref: rs("b").ref(), Data: data})
	p.Apply(events.Event{Seq: 5, Type: events.ObjectDeleted, Ref: rs("a").ref(), Data: mustJSON(rs("a", own(d, true)).v)})
	changes, _ := w.Next(t.Context())
	var keys [][]events.Ref
	for _, ch := range changes {
		keys = append(keys, Keys(g, ch))
		g.Observe(ch)
	}
	if got := g.Dependents(string(d.meta().UID)); len(got) != 0 {
		t.Fatalf("dependents of web after the changes: %v", got)
	}
	// The update of b keys b and its former owner; the deletion of a keys a and web.
	want := [][]events.Ref{{rs("b").ref(), d.ref()}, {rs("a").ref(), d.ref()}}
	if !slices.EqualFunc(keys, want, slices.Equal) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	fresh := NewGraph()
	fresh.Rebuild(p)
	if !slices.Equal(fresh.Dependents(string(d.meta().UID)), g.Dependents(string(d.meta().UID))) {
		t.Fatal("observed graph differs from rebuilt graph")
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
