package hpa

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Interval is upstream's --horizontal-pod-autoscaler-sync-period.
const Interval = 15 * time.Second

// Metrics measures pods: the usage of those it has metrics for, by uid. A
// pod it cannot measure is absent; an error means none could be measured.
type Metrics interface {
	PodUsage(ctx context.Context, pods []*corev1.Pod) (Usage, error)
}

// Loop returns the controller's loop over log and view, measuring pods
// through m (the wiring passes one that asks the pods' node agents).
func Loop(log *events.Log, view *projections.Projection, m Metrics) *reconcile.Loop {
	return NewLoop(log, view, m, Interval)
}

// NewLoop is Loop with its metrics source and interval: every HPA is
// reconciled every interval, and when it is added or its spec changes.
func NewLoop(log *events.Log, view *projections.Projection, m Metrics, interval time.Duration) *reconcile.Loop {
	c := &controller{metrics: m, history: map[events.Ref]histories{}}
	return &reconcile.Loop{
		Name: Name, Log: log, View: view, Reconcile: c.reconcile,
		Keys:         Keys,
		ResyncKeys:   reconcile.AllOf("autoscaling", "horizontalpodautoscalers"),
		RequeueAfter: reconcile.Every(interval, nil),
	}
}

// Keys maps a change to the HPA it concerns: one added, deleted, or whose
// spec changed (generation). Its own status writes concern none, so that
// measuring happens at the interval, not after each write.
func Keys(ch projections.Change) []events.Ref {
	ref := ch.Object.Ref
	if ref.Group != "autoscaling" || ref.Resource != "horizontalpodautoscalers" {
		return nil
	}
	if ch.Type == projections.Modified && ch.Prev != nil && generation(ch.Prev.Raw) == generation(ch.Object.Raw) {
		return nil
	}
	return []events.Ref{ref}
}

func generation(raw []byte) int64 {
	var m struct {
		Metadata struct {
			Generation int64 `json:"generation"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(raw, &m)
	return m.Metadata.Generation
}

// histories is one HPA's recommendations, for the HPA of that uid.
type histories struct {
	uid  string
	recs []Recommendation
}

// controller holds what Reconcile may not: the metrics source and the
// recommendation history (in memory, as upstream's).
type controller struct {
	metrics Metrics
	mu      sync.Mutex
	history map[events.Ref]histories
}

// metricsTimeout bounds one HPA's measurement, as the gateway bounds a read
// of metrics.k8s.io.
const metricsTimeout = 3 * time.Second

func (c *controller) reconcile(view reconcile.View, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	c.mu.Lock()
	h := c.history[key]
	if !ok {
		delete(c.history, key)
	}
	c.mu.Unlock()
	if !ok {
		return nil, nil
	}
	if h.uid != o.UID {
		h = histories{uid: o.UID}
	}
	var usage Usage
	if pods := Pods(view, key); len(pods) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), metricsTimeout)
		usage, _ = c.metrics.PodUsage(ctx, pods) // no usage: a condition, not a retry
		cancel()
	}
	out, recs, err := Reconcile(view, key, usage, h.recs, now)
	c.mu.Lock()
	c.history[key] = histories{uid: o.UID, recs: recs}
	c.mu.Unlock()
	return out, err
}
