package ipam

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the repair controller's actor name.
const Name = "system:controller:ipam-repair"

// Grace is how long a record may exist without its Service holding it
// before the repair controller frees it: a gateway writes the record just
// before the Service, so a young orphan is usually a create in flight.
const Grace = time.Minute

// Loop returns the repair controller: it frees records whose Service is
// gone or no longer holds them — Services deleted by controllers (the
// namespace controller, the garbage collector) or a gateway that died
// between allocating and writing the Service.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: Reconcile,
		Keys:         Keys,
		ResyncKeys:   orphans,
		RequeueAfter: reconcile.Every(Grace/2, orphaned),
	}
}

// Keys maps a change to the records it concerns: a record itself, and for
// a Service every record it held before or holds now.
func Keys(ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	switch {
	case isRecord(ref):
		return []events.Ref{ref}
	case ref.Group != "" || ref.Resource != "services":
		return nil
	}
	var out []events.Ref
	for _, o := range []*projections.Object{ch.Prev, ch.Object} {
		if o == nil {
			continue
		}
		var svc corev1.Service
		if reconcile.DecodeInto(o, &svc) != nil {
			continue
		}
		for _, r := range Refs(&svc) {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

func isRecord(ref events.Ref) bool {
	return ref.Group == IPGroup && ref.Resource == IPResource || ref.Group == PortGroup && ref.Resource == PortResource
}

// Reconcile deletes the record key when its Service does not hold it and
// the record is older than Grace.
func Reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok || !isRecord(key) {
		return nil, nil
	}
	var r Record
	if err := reconcile.DecodeInto(o, &r); err != nil {
		return nil, err
	}
	if HeldBy(view, key, r.Owner()) || now.Sub(r.CreationTimestamp.Time) < Grace {
		return nil, nil
	}
	ev := events.Event{Type: events.ObjectDeleted, Ref: key, APIVersion: o.Ref.Group + "/v1", Kind: r.Kind, Data: o.Raw}
	if ev.Kind == "" {
		ev.Kind = IPKind
		if key.Group == PortGroup {
			ev.Kind = PortKind
		}
	}
	return []reconcile.Append{{Event: ev, Expect: o.Seq}}, nil
}

// HeldBy reports whether the Service owner (same uid, when the record
// knows it) holds the value recorded at ref.
func HeldBy(view reconcile.View, ref events.Ref, owner Owner) bool {
	so, ok := view.Get(events.Ref{Resource: "services", Namespace: owner.Namespace, Name: owner.Name})
	if !ok {
		return false
	}
	var svc corev1.Service
	if reconcile.DecodeInto(so, &svc) != nil || owner.UID != "" && string(svc.UID) != owner.UID {
		return false
	}
	for _, r := range Refs(&svc) {
		if r == ref {
			return true
		}
	}
	return false
}

// orphaned reports whether record o is held by no Service.
func orphaned(view reconcile.View, o *projections.Object) bool {
	var r Record
	return reconcile.DecodeInto(o, &r) == nil && !HeldBy(view, o.Ref, r.Owner())
}

// orphans are the records no Service holds.
func orphans(view reconcile.View) []events.Ref {
	var out []events.Ref
	for _, gr := range [][2]string{{IPGroup, IPResource}, {PortGroup, PortResource}} {
		objs, _ := view.List(gr[0], gr[1], "")
		for _, o := range objs {
			if orphaned(view, o) {
				out = append(out, o.Ref)
			}
		}
	}
	return out
}
