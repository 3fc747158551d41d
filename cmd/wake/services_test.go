package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/namespace"
	"github.com/wakehq/wake/services/lease"
)

var fastLease = lease.Options{TTL: 1500 * time.Millisecond, Renew: 500 * time.Millisecond, Retry: 100 * time.Millisecond}

// TestControllersFailover runs two `wake controllers` roles against one
// NATS server: only the lease holder acts, and when it stops the other
// takes over and keeps working.
func TestControllersFailover(t *testing.T) {
	s, nc := natstest.Start(t)
	ctx := t.Context()
	log, err := events.Open(ctx, nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	proj := projections.New(projections.Options{})
	go proj.Run(ctx, log, nil)
	<-proj.Ready()

	type instance struct {
		cancel context.CancelFunc
		done   chan error
	}
	start := func(id string) *instance {
		c, err := nats.Connect(s.ClientURL(), nats.Name(id))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		ictx, cancel := context.WithCancel(ctx)
		in := &instance{cancel: cancel, done: make(chan error, 1)}
		go func() {
			in.done <- runRole(ictx, c, roleConfig{name: "controllers", id: id, lease: fastLease, memory: true, parts: controllerParts})
		}()
		t.Cleanup(func() { cancel(); <-in.done; in.done <- nil })
		return in
	}
	instances := map[string]*instance{"a": start("a"), "b": start("b")}

	kv, err := lease.Open(ctx, log.JetStream(), fastLease)
	if err != nil {
		t.Fatal(err)
	}
	holder := ""
	waitUntil(t, 5*time.Second, "a leader", func() bool {
		holder, _ = lease.Holder(ctx, kv, "controllers")
		return holder != ""
	})

	deleteNamespaceWithContent(t, log, proj, "first")
	checkDeletions(t, log, proj, "first")

	// Stop the leader: the other takes over and deletes the next namespace.
	in := instances[holder]
	in.cancel()
	if err := <-in.done; err != nil {
		t.Fatalf("stopped leader returned %v", err)
	}
	in.done <- nil
	began := time.Now()
	deleteNamespaceWithContent(t, log, proj, "second")
	checkDeletions(t, log, proj, "second")
	t.Logf("%s stopped; the other finished a namespace deletion %s later", holder, time.Since(began).Round(time.Millisecond))
	if h, _ := lease.Holder(ctx, kv, "controllers"); h == holder || h == "" {
		t.Fatalf("holder after failover = %q, want the other one", h)
	}
}

// controllerParts is what `wake controllers` runs.
var controllerParts = func(log *events.Log, view *projections.Projection) []runner {
	var out []runner
	for _, l := range controllerLoops(log, view) {
		out = append(out, l)
	}
	return out
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func appendObj(t *testing.T, log *events.Log, proj *projections.Projection, ref events.Ref, kind string, typ events.Type, change events.Change, obj any) {
	t.Helper()
	data, _ := json.Marshal(obj)
	var expect uint64
	if cur, ok := proj.Get(ref); ok {
		expect = cur.Seq
	}
	seq, err := log.Append(t.Context(), events.Event{ID: events.NewID(), Type: typ, Change: change, Source: "wake/test", Ref: ref,
		APIVersion: "v1", Kind: kind, Actor: "tester", RequestID: "test", Data: data}, expect)
	if err != nil {
		t.Fatal(err)
	}
	if err := proj.WaitFor(t.Context(), seq); err != nil {
		t.Fatal(err)
	}
}

// deleteNamespaceWithContent creates a namespace with three config maps,
// then marks it deleted as the gateway does.
func deleteNamespaceWithContent(t *testing.T, log *events.Log, proj *projections.Projection, name string) {
	t.Helper()
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-ns-" + name)},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	nsRef := events.Ref{Resource: "namespaces", Name: name}
	appendObj(t, log, proj, nsRef, "Namespace", events.ObjectCreated, "", ns)
	for i := range 3 {
		cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: fmt.Sprintf("cm-%d", i), UID: types.UID("uid-cm-" + name + fmt.Sprint(i))}}
		appendObj(t, log, proj, events.Ref{Resource: "configmaps", Namespace: name, Name: cm.Name}, "ConfigMap", events.ObjectCreated, "", cm)
	}
	ts := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	ns.DeletionTimestamp = &ts
	ns.Status.Phase = corev1.NamespaceTerminating
	appendObj(t, log, proj, nsRef, "Namespace", events.ObjectUpdated, events.ChangeDeletion, ns)
}

// checkDeletions waits until the namespace and its content are gone and
// checks that each went in exactly one event, written by the namespace
// controller.
func checkDeletions(t *testing.T, log *events.Log, proj *projections.Projection, name string) {
	t.Helper()
	nsRef := events.Ref{Resource: "namespaces", Name: name}
	waitUntil(t, 5*time.Second, "namespace "+name+" gone", func() bool { _, ok := proj.Get(nsRef); return !ok })
	time.Sleep(3 * fastLease.Renew) // room for a second, wrong, writer to show itself
	deleted := map[string]int{}
	err := log.Read(t.Context(), 1, "", func(ev events.Event) error {
		if ev.Type != events.ObjectDeleted || (ev.Ref.Namespace != name && ev.Ref != nsRef) {
			return nil
		}
		deleted[ev.Ref.String()]++
		if ev.Actor != namespace.Name {
			t.Errorf("%s deleted by %s, want %s", ev.Ref, ev.Actor, namespace.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 4 {
		t.Fatalf("deleted %v, want the namespace and its 3 config maps", deleted)
	}
	for ref, n := range deleted {
		if n != 1 {
			t.Errorf("%s deleted %d times", ref, n)
		}
	}
}
