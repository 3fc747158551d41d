package main

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/agent/metrics"
	"github.com/wakehq/wake/services/controllers/hpa"
)

// nodeMetrics measures pods for the HPA controller by asking each pod's
// node agent over NATS (agent/metrics), all nodes at once, for at most
// ctx's deadline. A node that does not answer in time leaves its pods out.
// It lives in the wiring so that the controller (services/) does not import
// the agent (a floor above it): hpa defines the Metrics it consumes.
type nodeMetrics struct{ nc *nats.Conn }

var _ hpa.Metrics = (*nodeMetrics)(nil)

// PodUsage implements hpa.Metrics: a pod's usage is the sum of its running
// containers', as metrics-server reports it to the upstream HPA.
func (m *nodeMetrics) PodUsage(ctx context.Context, pods []*corev1.Pod) (hpa.Usage, error) {
	asks := map[string]*metrics.Request{}
	for _, p := range pods {
		node := p.Spec.NodeName
		if node == "" || p.Status.Phase != corev1.PodRunning {
			continue
		}
		r := asks[node]
		if r == nil {
			r = &metrics.Request{}
			asks[node] = r
		}
		if r.Pods = append(r.Pods, string(p.UID)); len(r.Pods) > metrics.MaxPods {
			r.Pods, r.AllPods = nil, true
		}
	}
	c := metrics.Client{NC: m.nc}
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = hpa.Usage{}
	)
	for node, req := range asks {
		wg.Go(func() {
			rep, err := c.Get(ctx, node, *req)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, pu := range rep.Pods {
				if len(pu.Containers) == 0 {
					continue
				}
				var u hpa.PodUsage
				for _, cu := range pu.Containers {
					u.CPUMilli += int64(cu.Usage.CPU / 1e6)
					u.MemoryBytes += cu.Usage.Memory
				}
				out[types.UID(pu.UID)] = u
			}
		})
	}
	wg.Wait()
	return out, nil
}
