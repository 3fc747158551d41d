package replicaset

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// TestKeysSkipBinding: a binding changes nothing a ReplicaSet counts, so it
// queues none; a pod becoming Ready queues its ReplicaSet.
func TestKeysSkipBinding(t *testing.T) {
	v := setup(t, newRS(1))
	obj := func(p *corev1.Pod) *projections.Object {
		data, _ := json.Marshal(p)
		o, err := projections.BuildObject(events.Event{Ref: events.Ref{Resource: "pods", Namespace: "default", Name: p.Name}, Data: data, Seq: 99})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	pending := pod("web-a")
	bound := pending.DeepCopy()
	bound.Spec.NodeName = "n1"
	bound.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
	if got := Keys(v, projections.Change{Type: projections.Modified, Prev: obj(pending), Object: obj(bound)}); len(got) != 0 {
		t.Errorf("binding queued %v", got)
	}
	ready := bound.DeepCopy()
	ready.Status.Conditions = append(ready.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	if got := Keys(v, projections.Change{Type: projections.Modified, Prev: obj(bound), Object: obj(ready)}); len(got) != 1 || got[0] != rsKey {
		t.Errorf("becoming Ready queued %v, want [%v]", got, rsKey)
	}
}
