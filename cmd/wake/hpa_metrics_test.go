package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/agent/metrics"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/services/controllers/hpa"
)

// nodeMetrics asks each pod's node once, sums containers, converts units,
// and leaves out pods whose node has no agent.
func TestNodeMetricsAsksTheNodes(t *testing.T) {
	_, nc := natstest.Start(t)
	sub, err := nc.Subscribe(metrics.Subject("node-1"), func(m *nats.Msg) {
		var req metrics.Request
		json.Unmarshal(m.Data, &req)
		var rep metrics.Reply
		for _, uid := range req.Pods {
			rep.Pods = append(rep.Pods, metrics.PodUsage{UID: uid, Containers: []metrics.ContainerUsage{
				{Name: "a", Usage: metrics.Usage{CPU: 100e6, Memory: 1 << 20}},
				{Name: "b", Usage: metrics.Usage{CPU: 50e6, Memory: 1 << 20}},
			}})
		}
		b, _ := json.Marshal(rep)
		m.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	pod := func(uid, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID("u-" + uid)}, Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	got, err := (&nodeMetrics{nc: nc}).PodUsage(ctx, []*corev1.Pod{pod("1", "node-1"), pod("2", "node-1"), pod("3", "node-2")})
	if err != nil {
		t.Fatal(err)
	}
	want := hpa.PodUsage{CPUMilli: 150, MemoryBytes: 2 << 20}
	if len(got) != 2 || got["u-1"] != want || got["u-2"] != want {
		t.Errorf("usage = %+v, want u-1 and u-2 at %+v", got, want)
	}
}
