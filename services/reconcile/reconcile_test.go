package reconcile_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

var cmKind = reconcile.MustKind("", "configmaps")

// mirror is a tiny controller: for every ConfigMap "x" it creates "x-mirror".
func mirror(calls *atomic.Int64) reconcile.Func {
	return func(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
		calls.Add(1)
		if strings.HasSuffix(key.Name, "-mirror") {
			return nil, nil
		}
		if _, ok := view.Get(key); !ok {
			return nil, nil
		}
		target := key
		target.Name += "-mirror"
		if _, ok := view.Get(target); ok {
			return nil, nil
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: target.Name, Namespace: key.Namespace}}
		a, err := reconcile.Create(cmKind, cm, now, fmt.Sprintf("%s/%d", key, view.Seq()))
		return []reconcile.Append{a}, err
	}
}

func TestLoopConvergesOncePerKey(t *testing.T) {
	ctx, cancel, log, view := runningView(t)

	var calls, requeues atomic.Int64
	loop := func() *reconcile.Loop {
		return &reconcile.Loop{
			Name: "system:controller:mirror", Log: log, View: view, Reconcile: mirror(&calls),
			Keys: func(ch projections.Change) []events.Ref { return []events.Ref{ch.Object.Ref} },
			RequeueAfter: func(view reconcile.View, key events.Ref, now time.Time) time.Duration {
				if key.Name == "timer" && requeues.Add(1) < 3 {
					return 10 * time.Millisecond
				}
				return 0
			},
		}
	}
	// Two replicas at once: the expected sequences keep them from both
	// creating a mirror; the loser's conflict is retried from fresh state.
	done := make(chan error, 2)
	go func() { done <- loop().Run(ctx) }()
	go func() { done <- loop().Run(ctx) }()

	for i := range 20 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm%d", i), Namespace: "default"}}
		a, err := reconcile.Create(cmKind, cm, time.Now(), cm.Name)
		if err != nil {
			t.Fatal(err)
		}
		a.Event.ID, a.Event.Source, a.Event.Actor, a.Event.RequestID = events.NewID(), "wake/test", "tester", "r"
		if _, err := log.Append(ctx, a.Event, 0); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		objs, _ := view.List("", "configmaps", "default")
		if len(objs) == 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d configmaps, want 40", len(objs))
		}
		time.Sleep(10 * time.Millisecond)
	}
	created := 0
	log.Read(ctx, 1, events.FilterSubject("", "configmaps", "default"), func(ev events.Event) error {
		if ev.Type == events.ObjectCreated && strings.HasSuffix(ev.Ref.Name, "-mirror") {
			created++
			if ev.Actor != "system:controller:mirror" {
				t.Errorf("mirror created by %q", ev.Actor)
			}
		}
		return nil
	})
	if created != 20 {
		t.Fatalf("%d mirrors created, want exactly 20", created)
	}

	// RequeueAfter brings a key back without any change in the log.
	timer := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "timer", Namespace: "default"}}
	a, _ := reconcile.Create(cmKind, timer, time.Now(), "timer")
	a.Event.ID, a.Event.Source, a.Event.Actor, a.Event.RequestID = events.NewID(), "wake/test", "tester", "r"
	log.Append(ctx, a.Event, 0)
	for deadline := time.Now().Add(5 * time.Second); requeues.Load() < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("requeued %d times, want 3", requeues.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A RequeueAfter of zero requeues nothing: the loops fall quiet.
	time.Sleep(50 * time.Millisecond)
	before := calls.Load()
	time.Sleep(100 * time.Millisecond)
	if n := calls.Load() - before; n > 0 {
		t.Errorf("%d reconciles in 100ms with nothing to do", n)
	}
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestDeleteIsGracefulForBoundPods(t *testing.T) {
	st := projections.NewState()
	podKind := reconcile.MustKind("", "pods")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	a, err := reconcile.Create(podKind, pod, time.Unix(0, 0), "p")
	if err != nil {
		t.Fatal(err)
	}
	a.Event.Seq = 1
	st.Apply(a.Event)
	o, _ := st.Get(a.Event.Ref)
	d, err := reconcile.Delete(podKind, o, time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	if d.Event.Type != events.ObjectUpdated || d.Event.Change != events.ChangeDeletion || !strings.Contains(string(d.Event.Data), `"deletionGracePeriodSeconds":30`) {
		t.Fatalf("bound pod: %s %s %s", d.Event.Type, d.Event.Change, d.Event.Data)
	}
	d.Event.Seq = 2
	st.Apply(d.Event)
	o, _ = st.Get(a.Event.Ref)
	if again, _ := reconcile.Delete(podKind, o, time.Unix(101, 0)); !again.Empty() {
		t.Fatalf("deleting a terminating pod again wrote %s", again.Event.Type)
	}
}

// A controller recreates a name whose last object was deleted (a
// StatefulSet's pod, a mirror here): the create expects the deletion's
// sequence, not 0.
func TestLoopRecreatesADeletedName(t *testing.T) {
	ctx, cancel, log, view := runningView(t)
	var calls atomic.Int64
	loop := &reconcile.Loop{
		Name: "system:controller:mirror", Log: log, View: view, Reconcile: mirror(&calls),
		Keys: func(ch projections.Change) []events.Ref {
			// A mirror's deletion wakes its source.
			ref := ch.Object.Ref
			ref.Name = strings.TrimSuffix(ref.Name, "-mirror")
			return []events.Ref{ref}
		},
	}
	done := make(chan error, 1)
	go func() { done <- loop.Run(ctx) }()

	put := func(typ events.Type, obj *corev1.ConfigMap, expect uint64) uint64 {
		t.Helper()
		var (
			a   reconcile.Append
			err error
		)
		if typ == events.ObjectCreated {
			a, err = reconcile.Create(cmKind, obj, time.Now(), obj.Name)
		} else {
			cur, _ := view.Get(events.Ref{Resource: "configmaps", Namespace: "default", Name: obj.Name})
			a, err = reconcile.Delete(cmKind, cur, time.Now())
		}
		if err != nil {
			t.Fatal(err)
		}
		a.Event.ID, a.Event.Source, a.Event.Actor, a.Event.RequestID = events.NewID(), "wake/test", "tester", "r"
		seq, err := log.Append(ctx, a.Event, expect)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	mirrorRef := events.Ref{Resource: "configmaps", Namespace: "default", Name: "a-mirror"}
	waitMirror := func() *projections.Object {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if o, ok := view.Get(mirrorRef); ok {
				return o
			}
			if time.Now().After(deadline) {
				t.Fatal("no mirror after 5s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	put(events.ObjectCreated, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default"}}, 0)
	first := waitMirror()
	del := put(events.ObjectDeleted, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a-mirror", Namespace: "default"}}, first.Seq)
	if err := view.WaitFor(ctx, del); err != nil {
		t.Fatal(err)
	}
	if second := waitMirror(); second.Seq <= first.Seq {
		t.Fatalf("mirror not recreated: seq %d", second.Seq)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// runningView starts a NATS server, the log on it and a projection of it,
// ready; cancel (also run at the test's end) stops them.
func runningView(t *testing.T) (context.Context, context.CancelFunc, *events.Log, *projections.Projection) {
	t.Helper()
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	view := projections.New(projections.Options{})
	go view.Run(ctx, log, nil)
	<-view.Ready()
	return ctx, cancel, log, view
}
