package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the scheduler's actor name, as upstream's.
const Name = "system:kube-scheduler"

// Scheduler is the service: it keeps a Snapshot up to date from the
// projection's changes and schedules pending pods in rounds.
type Scheduler struct {
	log  *events.Log
	view *projections.Projection

	Name   string           // actor of its events; default Name
	Now    func() time.Time // default time.Now
	Logger *slog.Logger
	// MaxRound bounds the pods decided in one round (one AppendBatch).
	MaxRound int
	// RetryEvery is how often unschedulable pods are tried again when
	// nothing changed (upstream: podMaxInUnschedulablePodsDuration).
	RetryEvery time.Duration

	// Bound and Conflicts count bindings written and bindings lost to
	// another writer (another scheduler, or a change to the pod).
	Bound, Conflicts atomic.Int64

	snap    *Snapshot
	pending map[string]*pendingPod
	bound   map[string]uint64 // pod → sequence of our binding, until the view shows it
	dirty   bool              // the cluster changed: try unschedulable pods again
	retry   bool              // a write failed for another reason than a conflict
}

type pendingPod struct {
	obj   *projections.Object
	pod   *corev1.Pod
	prio  int32
	tried bool   // decided and not placed since the cluster last changed
	wrote uint64 // sequence of our last status write to it
}

// New returns the scheduler over log and view; Run starts it.
func New(log *events.Log, view *projections.Projection) *Scheduler {
	return &Scheduler{log: log, view: view, Name: Name, Now: time.Now, Logger: slog.Default(), MaxRound: 2000, RetryEvery: time.Minute}
}

// Run schedules until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	select {
	case <-s.view.Ready():
	case <-ctx.Done():
		return nil
	}
	for {
		err := s.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, projections.ErrExpired) {
			return err
		}
		s.Logger.Warn("scheduler fell behind the projection; rebuilding its snapshot", "err", err)
	}
}

func (s *Scheduler) run(ctx context.Context) error {
	w, err := s.view.Watch(s.view.Seq())
	if err != nil {
		return err
	}
	s.rebuild()
	for {
		if err := s.round(ctx, w.Pos()); err != nil {
			return err
		}
		wait := s.RetryEvery
		if s.retry {
			wait = time.Second
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		changes, err := w.Next(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			s.dirty, s.retry = true, false
		case err != nil:
			return err
		}
		for _, ch := range changes {
			s.apply(ch)
		}
	}
}

// rebuild makes the snapshot and the pending set from the view, in
// O(nodes + pods). Changes after this are applied by apply; changes it
// already reflects are applied again harmlessly.
func (s *Scheduler) rebuild() {
	nodeObjs, _ := s.view.List("", "nodes", "")
	podObjs, _ := s.view.List("", "pods", "")
	classObjs, _ := s.view.List("scheduling.k8s.io", "priorityclasses", "")
	nodes := decodeAll[corev1.Node](s, nodeObjs)
	pods := decodeAll[corev1.Pod](s, podObjs)
	classes := decodeAll[schedulingv1.PriorityClass](s, classObjs)
	s.snap = NewSnapshot(nodes, pods, classes)
	s.pending, s.bound, s.dirty = map[string]*pendingPod{}, map[string]uint64{}, false
	for i, p := range pods {
		if Schedulable(p) {
			s.setPending(podObjs[i], p, false)
		}
	}
}

func decodeAll[T any](s *Scheduler, objs []*projections.Object) []*T {
	out := make([]*T, 0, len(objs))
	for _, o := range objs {
		v := new(T)
		if err := json.Unmarshal(o.Raw, v); err != nil {
			s.Logger.Warn("scheduler: undecodable object skipped", "ref", o.Ref.String(), "err", err)
			continue
		}
		out = append(out, v)
	}
	return out
}

func (s *Scheduler) setPending(o *projections.Object, p *corev1.Pod, tried bool) {
	prio, err := s.snap.Priority(p)
	if err != nil {
		prio = -1 << 31
	}
	s.pending[PodKey(p)] = &pendingPod{obj: o, pod: p, prio: prio, tried: tried}
}

// apply folds one projection change into the snapshot and pending set.
func (s *Scheduler) apply(ch projections.Change) {
	ref := ch.Object.Ref
	switch {
	case ref.Group == "" && ref.Resource == "nodes":
		if ch.Type == projections.Deleted {
			s.snap.RemoveNode(ref.Name)
			s.dirty = true
			return
		}
		var n corev1.Node
		if err := json.Unmarshal(ch.Object.Raw, &n); err == nil && s.snap.SetNode(&n) {
			s.dirty = true
		}
	case ref.Group == "scheduling.k8s.io" && ref.Resource == "priorityclasses":
		var c schedulingv1.PriorityClass
		if ch.Type == projections.Deleted {
			s.snap.RemovePriorityClass(ref.Name)
		} else if err := json.Unmarshal(ch.Object.Raw, &c); err == nil {
			s.snap.SetPriorityClass(&c)
		}
		s.dirty = true
	case ref.Group == "" && ref.Resource == "pods":
		s.applyPod(ch)
	}
}

func (s *Scheduler) applyPod(ch projections.Change) {
	key := ch.Object.Ref.Namespace + "/" + ch.Object.Ref.Name
	if ch.Type == projections.Deleted {
		if _, placed := s.snap.NodeOf(key); placed {
			s.dirty = true
		}
		s.snap.RemovePod(key)
		delete(s.pending, key)
		delete(s.bound, key)
		return
	}
	if seq, ok := s.bound[key]; ok && seq == ch.Seq {
		// Our own binding: the snapshot has assumed it already.
		delete(s.bound, key)
		return
	}
	var p corev1.Pod
	if err := json.Unmarshal(ch.Object.Raw, &p); err != nil {
		s.Logger.Warn("scheduler: undecodable pod skipped", "pod", key, "err", err)
		return
	}
	_, wasPlaced := s.snap.NodeOf(key)
	if p.Spec.NodeName != "" {
		delete(s.pending, key)
		s.snap.SetPod(&p)
		if _, placed := s.snap.NodeOf(key); placed != wasPlaced {
			s.dirty = true // bound by another writer, or finished
		}
		return
	}
	s.snap.RemovePod(key)
	if !Schedulable(&p) {
		delete(s.pending, key)
		return
	}
	old := s.pending[key]
	s.setPending(ch.Object, &p, old != nil && old.tried && old.wrote == ch.Seq)
}

// round decides the pods that need it against the snapshot, writes the
// decisions in one batch and waits for the view to show them.
func (s *Scheduler) round(ctx context.Context, seq uint64) error {
	todo := make([]*pendingPod, 0, len(s.pending))
	for _, p := range s.pending {
		if !p.tried || s.dirty {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		s.dirty = false
		return nil
	}
	slices.SortFunc(todo, queueOrder)
	capped := len(todo) > s.MaxRound
	if capped {
		todo = todo[:s.MaxRound]
	}
	now := s.Now()
	var (
		batch     []events.Pending
		owners    []*pendingPod
		deleted   = map[string]bool{}
		bound     = false
		topoFails = false
	)
	add := func(a reconcile.Append, owner *pendingPod) {
		if a.Empty() {
			return
		}
		ev := a.Event
		ev.Time = now.UTC() // the round's decision time; the writer stamps the rest
		ev.RequestID = "schedule/" + owner.obj.UID + "/" + strconv.FormatUint(seq, 10)
		batch = append(batch, events.Pending{Event: ev, Expect: a.Expect})
		owners = append(owners, owner)
	}
	for _, p := range todo {
		p.tried = true
		d := Schedule(s.snap, p.pod, string(p.pod.UID)+"/"+strconv.FormatUint(seq, 10))
		if d.Node != "" {
			a, err := Binding(p.obj, p.pod, d, now)
			if err != nil {
				s.Logger.Error("scheduler: binding not built", "pod", d.Pod, "err", err)
				continue
			}
			pi, _ := NewPodInfo(p.pod, d.Priority)
			s.snap.Assume(pi, d.Node)
			add(a, p)
			bound = true
			continue
		}
		for _, f := range d.Failures {
			topoFails = topoFails || f.Plugin == "InterPodAffinity" || f.Plugin == "PodTopologySpread"
		}
		for _, v := range d.Victims {
			if deleted[v] {
				continue
			}
			deleted[v] = true
			ns, name, _ := strings.Cut(v, "/")
			o, ok := s.view.Get(events.Ref{Resource: "pods", Namespace: ns, Name: name})
			if !ok {
				continue
			}
			a, err := reconcile.Delete(podKind, o, now)
			if err != nil {
				s.Logger.Error("scheduler: victim not deleted", "pod", v, "err", err)
				continue
			}
			add(a, p)
		}
		a, changed, err := Unschedulable(p.obj, p.pod, d, now)
		if err != nil {
			s.Logger.Error("scheduler: status not built", "pod", d.Pod, "err", err)
		} else if changed {
			add(a, p)
			if ev, err := FailedSchedulingEvent(p.pod, d.Message, now); err == nil {
				add(ev, p)
			} else {
				s.Logger.Error("scheduler: event not built", "pod", d.Pod, "err", err)
			}
		}
	}
	s.dirty = capped || (bound && topoFails)
	if len(batch) == 0 {
		return nil
	}
	return s.commit(ctx, batch, owners)
}

// commit appends a round's events and waits for the view to apply them.
// A binding that fails is forgotten (its pod is decided again next round);
// a conflict means the pod changed, and that change is on its way.
func (s *Scheduler) commit(ctx context.Context, batch []events.Pending, owners []*pendingPod) error {
	w := events.Writer{Log: s.log, Source: "wake/scheduler", Actor: s.Name, Applied: s.view}
	results, waitErr := w.AppendBatch(ctx, batch)
	for i, r := range results {
		ev, p := batch[i].Event, owners[i]
		key := PodKey(p.pod)
		isOwn := ev.Ref.Namespace+"/"+ev.Ref.Name == key
		if r.Err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !errors.Is(r.Err, events.ErrConflict) {
				s.retry = true
				s.Logger.Warn("scheduler: write failed; retrying", "event", ev.Ref.String(), "err", r.Err)
			}
			p.tried = false
			if isOwn && ev.Change == events.ChangeBinding {
				s.snap.RemovePod(key)
				if errors.Is(r.Err, events.ErrConflict) {
					s.Conflicts.Add(1)
				}
			}
			continue
		}
		switch {
		case isOwn && ev.Change == events.ChangeBinding:
			s.bound[key] = r.Seq
			delete(s.pending, key)
			s.Bound.Add(1)
		case isOwn:
			p.wrote = r.Seq
		}
	}
	if waitErr != nil && ctx.Err() == nil {
		return fmt.Errorf("scheduler: %w", waitErr)
	}
	return nil
}

// queueOrder is upstream's active queue order: higher priority first,
// then older, then by name.
func queueOrder(a, b *pendingPod) int {
	if a.prio != b.prio {
		if a.prio > b.prio {
			return -1
		}
		return 1
	}
	if c := a.pod.CreationTimestamp.Compare(b.pod.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(PodKey(a.pod), PodKey(b.pod))
}
