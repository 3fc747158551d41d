package garbagecollector

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
)

// TestLoop runs the collector against an in-process NATS server and a real
// projection: background, foreground and orphan deletion end to end.
func TestLoop(t *testing.T) {
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	proj := projections.New(projections.Options{})
	done := make(chan struct{}, 2)
	go func() { proj.Run(ctx, log, nil); done <- struct{}{} }()
	loop := Loop(log, proj)
	go func() { loop.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	write := func(o obj, typ events.Type, change events.Change) {
		t.Helper()
		o.v.GetObjectKind().SetGroupVersionKind(o.kind.GVK())
		data, _ := json.Marshal(o.v)
		var expect uint64
		if cur, ok := proj.Get(o.ref()); ok {
			expect = cur.Seq
		}
		seq, err := log.Append(ctx, events.Event{ID: events.NewID(), Type: typ, Change: change, Source: "wake/test", Ref: o.ref(),
			APIVersion: o.kind.APIVersion(), Kind: o.kind.Kind, Actor: "tester", RequestID: "r", Data: data}, expect)
		if err != nil {
			t.Fatal(err)
		}
		if err := proj.WaitFor(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	waitGone := func(objs ...obj) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for _, o := range objs {
			for {
				if _, ok := proj.Get(o.ref()); !ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s still there", o.ref())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}

	// Background: the owner goes at once, its dependents follow.
	bg := deploy("bg")
	write(bg, events.ObjectCreated, "")
	write(rs("bg-1", own(bg, true)), events.ObjectCreated, "")
	write(pod("bg-1-a", own(rs("bg-1"), true)), events.ObjectCreated, "")
	write(bg, events.ObjectDeleted, "")
	waitGone(rs("bg-1"), pod("bg-1-a"))

	// Foreground: the owner waits for its dependents, then goes.
	fg := deploy("fg")
	write(fg, events.ObjectCreated, "")
	write(rs("fg-1", own(fg, true)), events.ObjectCreated, "")
	write(pod("fg-1-a", own(rs("fg-1"), true)), events.ObjectCreated, "")
	write(pod("fg-1-b", own(rs("fg-1"), true)), events.ObjectCreated, "")
	write(terminating(deploy("fg"), FinalizerForeground), events.ObjectUpdated, events.ChangeDeletion)
	waitGone(pod("fg-1-a"), pod("fg-1-b"), rs("fg-1"), fg)

	// Orphan: the dependents stay, without the reference.
	or := deploy("or")
	write(or, events.ObjectCreated, "")
	write(rs("or-1", own(or, true)), events.ObjectCreated, "")
	write(terminating(deploy("or"), FinalizerOrphan), events.ObjectUpdated, events.ChangeDeletion)
	waitGone(or)
	o, ok := proj.Get(rs("or-1").ref())
	if !ok {
		t.Fatal("orphaned replica set was deleted")
	}
	if refs := ownerRefsOf(o); len(refs) != 0 {
		t.Fatalf("orphan still has owners %v", refs)
	}

	// Every decision names the collector.
	err = log.Read(ctx, 1, "", func(ev events.Event) error {
		if ev.Source == "wake/controllers" && ev.Actor != Name {
			t.Errorf("event %d by %s", ev.Seq, ev.Actor)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
