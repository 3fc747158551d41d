package endpoints

import (
	"context"
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// fullResync reconciles every Service again at this period.
const fullResync = 5 * time.Minute

// Loop returns the controller's loop over log and view.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view,
		Reconcile:    WithReusedNames(log, Reconcile),
		Keys:         func(ch projections.Change) []events.Ref { return Keys(view, ch) },
		ResyncKeys:   AllServices,
		RequeueAfter: reconcile.Every(fullResync, nil),
	}
}

// WithReusedNames wraps a Reconcile whose creations name objects that may
// have existed before (an Endpoints is named after its Service): a
// creation expecting "never written" instead expects the deletion that
// ended the name's last object, as the gateway's creates do. This is the
// loop's I/O; the decision stays pure.
func WithReusedNames(log *events.Log, fn reconcile.Func) reconcile.Func {
	return func(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
		out, err := fn(view, key, now)
		if err != nil {
			return nil, err
		}
		for i, a := range out {
			if a.Event.Type != events.ObjectCreated || a.Expect != 0 {
				continue
			}
			last, err := log.Last(context.Background(), a.Event.Ref)
			switch {
			case errors.Is(err, events.ErrNotFound):
			case err != nil:
				return nil, err
			case last.Type == events.ObjectDeleted:
				out[i].Expect = last.Seq
			}
		}
		return out, nil
	}
}

// Keys maps a change to the Services it concerns: a Service itself, the
// Service an Endpoints is named after, and for a pod the Services of its
// namespace whose selector matches its labels before or after.
func Keys(view reconcile.View, ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	if ref.Group != "" {
		return nil
	}
	switch ref.Resource {
	case "services", "endpoints":
		return []events.Ref{{Resource: "services", Namespace: ref.Namespace, Name: ref.Name}}
	case "pods":
		var sets []labels.Set
		for _, o := range []*projections.Object{ch.Prev, ch.Object} {
			if o != nil {
				sets = append(sets, labels.Set(o.Labels))
			}
		}
		return Matching(view, ref.Namespace, sets...)
	}
	return nil
}

// Matching are the Services of a namespace whose selector matches any of
// the label sets.
func Matching(view reconcile.View, namespace string, sets ...labels.Set) []events.Ref {
	objs, _ := view.List("", "services", namespace)
	var out []events.Ref
	for _, o := range objs {
		var svc struct {
			Spec struct {
				Selector map[string]string `json:"selector"`
			} `json:"spec"`
		}
		if reconcile.DecodeInto(o, &svc) != nil || svc.Spec.Selector == nil {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, s := range sets {
			if sel.Matches(s) {
				out = append(out, o.Ref)
				break
			}
		}
	}
	return out
}

// AllServices are the keys of a full resync.
func AllServices(view reconcile.View) []events.Ref {
	objs, _ := view.List("", "services", "")
	out := make([]events.Ref, len(objs))
	for i, o := range objs {
		out[i] = o.Ref
	}
	return out
}
