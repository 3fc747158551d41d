package endpointslice

import (
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/endpoints"
	"github.com/wakehq/wake/services/reconcile"
)

// fullResync reconciles every Service again at this period (zones of
// nodes, which are not watched, catch up then).
const fullResync = 5 * time.Minute

// Loop returns the controller's loop over log and view.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	return &reconcile.Loop{
		Name: Name, Log: log, View: view,
		Reconcile:    endpoints.WithReusedNames(log, Reconcile),
		Keys:         func(ch projections.Change) []events.Ref { return Keys(view, ch) },
		ResyncKeys:   endpoints.AllServices,
		RequeueAfter: reconcile.Every(fullResync, nil),
	}
}

// Keys maps a change to the Services it concerns: a Service, the Service
// a managed slice belongs to, and the Services selecting a changed pod.
func Keys(view reconcile.View, ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	switch {
	case ref.Group == "" && ref.Resource == "services":
		return []events.Ref{ref}
	case ref.Group == "discovery.k8s.io" && ref.Resource == "endpointslices":
		if ch.Object.Labels[discoveryv1.LabelManagedBy] != ManagedBy {
			return nil
		}
		if name := ch.Object.Labels[discoveryv1.LabelServiceName]; name != "" {
			return []events.Ref{{Resource: "services", Namespace: ref.Namespace, Name: name}}
		}
	case ref.Group == "" && ref.Resource == "pods":
		var sets []labels.Set
		for _, o := range []*projections.Object{ch.Prev, ch.Object} {
			if o != nil {
				sets = append(sets, labels.Set(o.Labels))
			}
		}
		return endpoints.Matching(view, ref.Namespace, sets...)
	}
	return nil
}
