package nodelifecycle

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/lease"
	"github.com/wakehq/wake/services/reconcile"
)

// Resync is how often every node is checked again: time alone makes a
// node stale or a toleration expire.
const Resync = 5 * time.Second

// Loop returns the controller's loop over log and view. It reads the
// node's latest heartbeat from the heartbeat bucket before each decision.
func Loop(log *events.Log, view *projections.Projection) *reconcile.Loop {
	hb := &heartbeats{js: log.JetStream()}
	return &reconcile.Loop{
		Name: Name, Log: log, View: view,
		Reconcile: func(v reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
			beats := Heartbeats{}
			t, ok, err := hb.last(key.Name)
			if err != nil {
				return nil, err
			}
			if ok {
				beats[key.Name] = t
			}
			return Reconcile(v, beats, key, now)
		},
		Keys:         Keys,
		ResyncKeys:   ResyncKeys,
		RequeueAfter: reconcile.Every(Resync, nil),
	}
}

// Keys maps a change of a node, or of a pod bound to one, to the node.
func Keys(ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	switch {
	case ref.Group == "" && ref.Resource == "nodes":
		return []events.Ref{ref}
	case ref.Group == "" && ref.Resource == "pods" && ch.Type != projections.Deleted:
		var p struct {
			Spec struct {
				NodeName string `json:"nodeName"`
			} `json:"spec"`
		}
		if json.Unmarshal(ch.Object.Raw, &p) == nil && p.Spec.NodeName != "" {
			return []events.Ref{{Resource: "nodes", Name: p.Spec.NodeName}}
		}
	}
	return nil
}

// ResyncKeys are every node.
func ResyncKeys(view reconcile.View) []events.Ref {
	objs, _ := view.List("", "nodes", "")
	refs := make([]events.Ref, len(objs))
	for i, o := range objs {
		refs[i] = o.Ref
	}
	return refs
}

// heartbeats reads the heartbeat bucket, opening it on first use.
type heartbeats struct {
	js jetstream.JetStream
	mu sync.Mutex
	kv jetstream.KeyValue
}

func (h *heartbeats) last(node string) (time.Time, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	h.mu.Lock()
	if h.kv == nil {
		kv, err := lease.OpenHeartbeats(ctx, h.js)
		if err != nil {
			h.mu.Unlock()
			return time.Time{}, false, err
		}
		h.kv = kv
	}
	kv := h.kv
	h.mu.Unlock()
	return lease.LastHeartbeat(ctx, kv, node)
}
