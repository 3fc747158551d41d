package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

var clock = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// env is a log on an in-process NATS server with a running projection.
type env struct {
	log  *events.Log
	proj *projections.Projection
	ctx  context.Context
	wg   sync.WaitGroup
}

func startEnv(t testing.TB, opts *server.Options, memory bool) *env {
	t.Helper()
	_, nc := natstest.StartWith(t, opts)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := events.Open(ctx, nc, events.Config{Memory: memory})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{log: log, proj: projections.New(projections.Options{History: 100000}), ctx: ctx}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.proj.Run(ctx, log, nil)
	}()
	t.Cleanup(func() {
		cancel()
		e.wg.Wait()
	})
	<-e.proj.Ready()
	return e
}

// run starts a scheduler until the test ends.
func (e *env) run(t testing.TB) *Scheduler {
	s := New(e.log, e.proj)
	s.Now = func() time.Time { return clock }
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := s.Run(e.ctx); err != nil {
			t.Errorf("scheduler: %v", err)
		}
	}()
	return s
}

// kubelet plays the node agents' part in deletion: pods marked for graceful
// deletion are finished (removed) at once.
func (e *env) kubelet(t testing.TB) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for e.ctx.Err() == nil {
			objs, _ := e.proj.List("", "pods", "")
			for _, o := range objs {
				var p corev1.Pod
				if json.Unmarshal(o.Raw, &p) != nil || p.DeletionTimestamp == nil {
					continue
				}
				ev := events.Event{ID: events.NewID(), Type: events.ObjectDeleted, Source: "wake/test", Ref: o.Ref,
					APIVersion: "v1", Kind: "Pod", Actor: "kubelet", RequestID: "test", Data: o.Raw}
				e.log.Append(e.ctx, ev, o.Seq)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
}

// create appends objects as the gateway would create them, in one batch.
func (e *env) create(t testing.TB, objs ...runtime.Object) {
	t.Helper()
	batch := make([]events.Pending, 0, len(objs))
	for _, o := range objs {
		var k = podKind
		name := ""
		switch v := o.(type) {
		case *corev1.Node:
			k, name = reconcile.MustKind("", "nodes"), v.Name
		case *corev1.Pod:
			name = v.Name
		}
		a, err := reconcile.Create(k, o, clock, "test/"+name)
		if err != nil {
			t.Fatal(err)
		}
		ev := a.Event
		ev.ID, ev.Source, ev.Actor, ev.RequestID = events.NewID(), "wake/test", "test", "test"
		batch = append(batch, events.Pending{Event: ev, Expect: a.Expect})
	}
	var last uint64
	for _, r := range e.log.AppendBatch(e.ctx, batch) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		last = max(last, r.Seq)
	}
	if err := e.proj.WaitFor(e.ctx, last); err != nil {
		t.Fatal(err)
	}
}

// pods returns the projection's pods.
func (e *env) pods(t testing.TB) []*corev1.Pod {
	t.Helper()
	objs, _ := e.proj.List("", "pods", "")
	out := make([]*corev1.Pod, len(objs))
	for i, o := range objs {
		out[i] = new(corev1.Pod)
		if err := json.Unmarshal(o.Raw, out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// waitFor polls until cond holds for the projection's pods.
func (e *env) waitFor(t testing.TB, what string, cond func([]*corev1.Pod) bool) []*corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pods := e.pods(t)
		if cond(pods) {
			return pods
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func count(pods []*corev1.Pod, f func(*corev1.Pod) bool) int {
	n := 0
	for _, p := range pods {
		if f(p) {
			n++
		}
	}
	return n
}

func isBound(p *corev1.Pod) bool { return p.Spec.NodeName != "" }

func unschedulableMsg(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return c.Message
		}
	}
	return ""
}

// bindings counts the binding events of each pod in the log.
func (e *env) bindings(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := e.log.Read(e.ctx, 1, events.FilterSubject("", "pods", ""), func(ev events.Event) error {
		if ev.Change == events.ChangeBinding {
			out[ev.Ref.Namespace+"/"+ev.Ref.Name]++
			if ev.Actor != Name || ev.Detail == "" {
				t.Errorf("binding of %s: actor %q detail %q", ev.Ref, ev.Actor, ev.Detail)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func checkResources(t testing.TB, ns []*corev1.Node, pods []*corev1.Pod) {
	t.Helper()
	used := map[string]int64{}
	for _, p := range pods {
		if isBound(p) {
			pi, _ := NewPodInfo(p, 0)
			used[p.Spec.NodeName] += pi.Requests.MilliCPU
		}
	}
	for _, n := range ns {
		if used[n.Name] > n.Status.Allocatable.Cpu().MilliValue() {
			t.Errorf("node %s: %dm cpu requested, %dm allocatable", n.Name, used[n.Name], n.Status.Allocatable.Cpu().MilliValue())
		}
	}
}

func TestSchedulerIntegration(t *testing.T) {
	e := startEnv(t, natstest.Options(t), true)
	ns := nodes(5, 1000, 4096, 10)
	var objs []runtime.Object
	for _, n := range ns {
		objs = append(objs, n)
	}
	for i := range 20 {
		objs = append(objs, pod(fmt.Sprintf("p-%02d", i), 300, 64))
	}
	other := pod("other", 0, 0)
	other.Spec.SchedulerName = "my-scheduler"
	objs = append(objs, other)
	e.create(t, objs...)
	e.run(t)

	// 3 pods of 300m fit each 1000m node: 15 bound, 5 unschedulable.
	want := "0/5 nodes are available: 5 Insufficient cpu. preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod."
	pods := e.waitFor(t, "15 bound and 5 unschedulable", func(ps []*corev1.Pod) bool {
		return count(ps, isBound) == 15 && count(ps, func(p *corev1.Pod) bool { return unschedulableMsg(p) == want }) == 5
	})
	checkResources(t, ns, pods)
	for _, p := range pods {
		if p.Name == "other" && (isBound(p) || len(p.Status.Conditions) > 0) {
			t.Errorf("pod for another scheduler was touched: %+v", p.Status)
		}
	}

	// A new node: the unschedulable pods are tried again.
	extra := node("node-new", 1000, 4096, 10)
	e.create(t, extra)
	pods = e.waitFor(t, "18 bound", func(ps []*corev1.Pod) bool { return count(ps, isBound) == 18 })
	checkResources(t, append(ns, extra), pods)

	// A high-priority pod preempts one low-priority pod and takes its place
	// once the victim's node has stopped it.
	e.kubelet(t)
	e.create(t, withPriority(pod("vip", 300, 64), 1000))
	pods = e.waitFor(t, "vip bound", func(ps []*corev1.Pod) bool {
		return count(ps, func(p *corev1.Pod) bool { return p.Name == "vip" && isBound(p) }) == 1
	})
	if len(pods) != 21 {
		t.Errorf("%d pods after preemption, want 21 (one victim deleted)", len(pods))
	}
	checkResources(t, append(ns, extra), pods)

	for pod, n := range e.bindings(t) {
		if n != 1 {
			t.Errorf("%s bound %d times", pod, n)
		}
	}
	// No event storm: the 2 pods still unschedulable got one status each
	// per distinct message.
	statuses := 0
	e.log.Read(e.ctx, 1, events.FilterSubject("", "pods", ""), func(ev events.Event) error {
		if ev.Change == events.ChangeStatus && strings.HasPrefix(ev.Actor, "system:kube-scheduler") {
			statuses++
		}
		return nil
	})
	if statuses > 10 {
		t.Errorf("%d unschedulable status events, want one per pod and message", statuses)
	}
}

func TestTwoSchedulersNeverDoubleBind(t *testing.T) {
	e := startEnv(t, natstest.Options(t), true)
	ns := nodes(10, 64000, 65536, 110)
	var objs []runtime.Object
	for _, n := range ns {
		objs = append(objs, n)
	}
	e.create(t, objs...)
	s1, s2 := e.run(t), e.run(t)
	for b := range 4 {
		objs = objs[:0]
		for i := range 100 {
			objs = append(objs, pod(fmt.Sprintf("p-%d-%03d", b, i), 100, 64))
		}
		e.create(t, objs...)
	}
	pods := e.waitFor(t, "400 bound", func(ps []*corev1.Pod) bool { return count(ps, isBound) == 400 })
	checkResources(t, ns, pods)
	b := e.bindings(t)
	if len(b) != 400 {
		t.Errorf("%d pods have bindings, want 400", len(b))
	}
	for pod, n := range b {
		if n != 1 {
			t.Errorf("%s bound %d times", pod, n)
		}
	}
	// The counters move after the acknowledgements, which may trail the view.
	for deadline := time.Now().Add(5 * time.Second); s1.Bound.Load()+s2.Bound.Load() < 400 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("scheduler 1 bound %d (%d conflicts), scheduler 2 bound %d (%d conflicts)",
		s1.Bound.Load(), s1.Conflicts.Load(), s2.Bound.Load(), s2.Conflicts.Load())
	if s1.Bound.Load()+s2.Bound.Load() != 400 {
		t.Errorf("the schedulers report %d bindings, want 400", s1.Bound.Load()+s2.Bound.Load())
	}
	if s1.Conflicts.Load()+s2.Conflicts.Load() == 0 {
		t.Error("no binding conflicted: the two schedulers never raced, so the test proves nothing")
	}
}
