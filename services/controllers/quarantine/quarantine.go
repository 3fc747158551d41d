// Package quarantine tells the cluster's users about messages of the log
// the projection quarantined (projections.Quarantined): one Kubernetes
// Event of type Warning, reason EventQuarantined, per quarantined
// message, about the object the message's subject names when it names one
// (kubectl get events, kubectl describe show it).
//
// It runs with the controllers (leader-elected, so one writer at a time)
// and writes each Event once ever: its name derives from the message's
// sequence, and it is created only if its subject has no event at all
// (expected sequence 0), so a restart, a new leader or a deleted Event
// never writes it again. Warning is pure (the record, the view, now);
// Service is the thin wiring around it.
//
// It must not change the fold or quarantine anything itself; the
// projection decides what is quarantined, alike on every replica.
package quarantine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the service's actor name.
const Name = "system:controller:quarantine"

// Reason is the Events' reason.
const Reason = "EventQuarantined"

// component is the Events' source and reporting controller.
const component = "wake-projection"

var eventKind = reconcile.MustKind("", "events")

// EventName is the name of the Warning Event about the message at seq.
func EventName(seq uint64) string { return "wake-quarantined." + strconv.FormatUint(seq, 10) }

// Warning is the append that creates the Warning Event about q, in the
// namespace of the object q's subject names (default for a cluster-scoped
// object, one whose namespace is gone, or a subject that names none).
func Warning(view reconcile.View, q projections.Quarantined, now time.Time) (reconcile.Append, error) {
	ns := metav1.NamespaceDefault
	involved := corev1.ObjectReference{}
	if ref, ok := q.Ref(); ok {
		involved = corev1.ObjectReference{Namespace: ref.Namespace, Name: ref.Name}
		if k, ok := kinds.ByResource(ref.Group, ref.Resource); ok {
			involved.Kind, involved.APIVersion = k.Kind, k.APIVersion()
		}
		if o, ok := view.Get(ref); ok {
			involved.UID = types.UID(o.UID)
		}
		if _, ok := view.Get(events.Ref{Resource: "namespaces", Name: ref.Namespace}); ok && ref.Namespace != "" {
			ns = ref.Namespace
		} else {
			// An Event names an object of its own namespace (or a
			// cluster-scoped one); the message names the subject.
			involved.Namespace = ""
		}
	}
	name := EventName(q.Seq)
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
		InvolvedObject: involved,
		Reason:         Reason,
		Message: fmt.Sprintf("event %d on %s was quarantined and is folded as if absent: %s",
			q.Seq, q.Subject, q.Reason),
		Type:                corev1.EventTypeWarning,
		Count:               1,
		Source:              corev1.EventSource{Component: component},
		FirstTimestamp:      ts,
		LastTimestamp:       ts,
		ReportingController: component,
		ReportingInstance:   component,
	}
	return reconcile.Create(eventKind, ev, now, "event/"+name)
}

// Quarantine is what the service reads: the projection.
type Quarantine interface {
	reconcile.View
	Quarantined() []projections.Quarantined
	Ready() <-chan struct{}
	WaitFor(ctx context.Context, seq uint64) error
}

var _ Quarantine = (*projections.Projection)(nil)

// Service writes the Warning Events.
type Service struct {
	Log    *events.Log
	View   Quarantine
	Logger *slog.Logger
	Now    func() time.Time
}

// New returns the service over log and view.
func New(log *events.Log, view Quarantine) *Service {
	return &Service{Log: log, View: view}
}

// Run writes an Event for every quarantined message, now and as the
// projection quarantines more, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	select {
	case <-s.View.Ready():
	case <-ctx.Done():
		return nil
	}
	done := 0 // the records before it have their Event
	for {
		seq := s.View.Seq()
		qs := s.View.Quarantined()
		for done < len(qs) {
			if err := s.write(ctx, qs[done]); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				s.Logger.Warn("quarantine: warning event not written; retrying", "seq", qs[done].Seq, "err", err)
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
					return nil
				}
				continue
			}
			done++
		}
		if err := s.View.WaitFor(ctx, seq+1); err != nil {
			return nil // ctx ended
		}
	}
}

// write creates the Event about q unless its subject has any event
// already (written before, even if deleted since). An Event that cannot
// be built is logged and left out: retrying would not help, and it must
// not hold up the next ones.
func (s *Service) write(ctx context.Context, q projections.Quarantined) error {
	a, err := Warning(s.View, q, s.Now())
	if err != nil {
		s.Logger.Error("quarantine: no warning event for a quarantined message", "seq", q.Seq, "err", err)
		return nil
	}
	w := events.Writer{Log: s.Log, Source: "wake/controllers", Actor: Name, RequestID: "quarantine/" + strconv.FormatUint(q.Seq, 10), Now: s.Now}
	_, err = w.Append(ctx, a.Event, 0)
	if errors.Is(err, events.ErrConflict) {
		return nil // written before
	}
	return err
}
