package nodelifecycle

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

var (
	t0      = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	created = metav1.NewTime(t0.Add(-time.Hour))
)

func mkNode(ready corev1.ConditionStatus, reason string, taints ...corev1.Taint) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "u-n1", CreationTimestamp: created}, Spec: corev1.NodeSpec{Taints: taints}}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: ready, Reason: reason, LastHeartbeatTime: created},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: created},
		}
	}
	return n
}

func mkPod(name, node string, tolerations ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: "u-" + "name"},
		Spec: corev1.PodSpec{NodeName: node, Tolerations: tolerations}}
}

func taint(key string, effect corev1.TaintEffect, added time.Time) corev1.Taint {
	t := corev1.Taint{Key: key, Effect: effect}
	if effect == corev1.TaintEffectNoExecute {
		ts := metav1.NewTime(added)
		t.TimeAdded = &ts
	}
	return t
}

func unreachable(added time.Time) []corev1.Taint {
	return []corev1.Taint{taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule, added), taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, added)}
}

func tolerate(key string, seconds *int64) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
}

func view(t *testing.T, node *corev1.Node, pods ...*corev1.Pod) *projections.Projection {
	t.Helper()
	p := projections.New(projections.Options{})
	seq := uint64(0)
	put := func(k string, ref events.Ref, v any) {
		seq++
		data, _ := json.Marshal(v)
		p.Apply(events.Event{Seq: seq, Type: events.ObjectCreated, Ref: ref, Kind: k, APIVersion: "v1", Data: data})
	}
	put("Node", events.Ref{Resource: "nodes", Name: node.Name}, node)
	for _, po := range pods {
		put("Pod", events.Ref{Resource: "pods", Namespace: po.Namespace, Name: po.Name}, po)
	}
	return p
}

type want struct {
	typ    events.Type
	change events.Change
	name   string
	ready  corev1.ConditionStatus // for status updates
	taints []string               // for spec updates: key:effect
}

func TestReconcile(t *testing.T) {
	fresh := Heartbeats{"n1": t0.Add(-10 * time.Second)}
	silent := Heartbeats{"n1": t0.Add(-41 * time.Second)}
	for _, tc := range []struct {
		name  string
		node  *corev1.Node
		pods  []*corev1.Pod
		beats Heartbeats
		want  []want
	}{
		{"fresh heartbeat, ready: nothing", mkNode(corev1.ConditionTrue, ReasonReady), nil, fresh, nil},
		{"silent 41s: Ready Unknown", mkNode(corev1.ConditionTrue, ReasonReady), nil, silent,
			[]want{{events.ObjectUpdated, events.ChangeStatus, "n1", corev1.ConditionUnknown, nil}}},
		{"silent 39s: still ready", mkNode(corev1.ConditionTrue, ReasonReady), nil, Heartbeats{"n1": t0.Add(-39 * time.Second)}, nil},
		{"no heartbeat ever, no conditions: never updated", mkNode("", ""), nil, nil,
			[]want{{events.ObjectUpdated, events.ChangeStatus, "n1", corev1.ConditionUnknown, nil}}},
		{"Unknown: unreachable taints", mkNode(corev1.ConditionUnknown, ReasonUnknown), nil, silent,
			[]want{{events.ObjectUpdated, events.ChangeSpec, "n1", "", []string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}}}},
		{"NotReady: not-ready taints", mkNode(corev1.ConditionFalse, "KubeletNotReady"), nil, fresh,
			[]want{{events.ObjectUpdated, events.ChangeSpec, "n1", "", []string{"node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"}}}},
		{"heartbeats back: Ready True", mkNode(corev1.ConditionUnknown, ReasonUnknown, unreachable(t0)...), nil, fresh,
			[]want{{events.ObjectUpdated, events.ChangeStatus, "n1", corev1.ConditionTrue, nil}}},
		{"Ready again: taints removed, others kept", mkNode(corev1.ConditionTrue, ReasonReady, append(unreachable(t0), taint("gpu", corev1.TaintEffectNoSchedule, t0))...), nil, fresh,
			[]want{{events.ObjectUpdated, events.ChangeSpec, "n1", "", []string{"gpu:NoSchedule"}}}},
		{"Unknown set by someone else is left alone", mkNode(corev1.ConditionUnknown, "Other", unreachable(t0)...), nil, fresh, nil},
		{"untolerating pod evicted at once, other nodes' pods untouched",
			mkNode(corev1.ConditionUnknown, ReasonUnknown, unreachable(t0.Add(-time.Second))...),
			[]*corev1.Pod{mkPod("a", "n1"), mkPod("b", "n2")}, silent,
			[]want{{events.ObjectUpdated, events.ChangeDeletion, "a", "", nil}}},
		{"tolerationSeconds not elapsed: kept",
			mkNode(corev1.ConditionUnknown, ReasonUnknown, unreachable(t0.Add(-299*time.Second))...),
			[]*corev1.Pod{mkPod("a", "n1", tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](300)))}, silent, nil},
		{"tolerationSeconds elapsed since timeAdded: evicted",
			mkNode(corev1.ConditionUnknown, ReasonUnknown, unreachable(t0.Add(-300*time.Second))...),
			[]*corev1.Pod{mkPod("a", "n1", tolerate(corev1.TaintNodeUnreachable, ptr.To[int64](300)))}, silent,
			[]want{{events.ObjectUpdated, events.ChangeDeletion, "a", "", nil}}},
		{"tolerated forever: kept",
			mkNode(corev1.ConditionUnknown, ReasonUnknown, unreachable(t0.Add(-time.Hour))...),
			[]*corev1.Pod{mkPod("a", "n1", tolerate("", nil))}, silent, nil},
		{"healthy node: no eviction even without tolerations", mkNode(corev1.ConditionTrue, ReasonReady), []*corev1.Pod{mkPod("a", "n1")}, fresh, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := view(t, tc.node, tc.pods...)
			got, err := Reconcile(v, tc.beats, events.Ref{Resource: "nodes", Name: "n1"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d appends, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, a := range got {
				w := tc.want[i]
				if a.Event.Type != w.typ || a.Event.Change != w.change || a.Event.Ref.Name != w.name {
					t.Fatalf("append %d: %s %s %s, want %s %s %s", i, a.Event.Type, a.Event.Change, a.Event.Ref.Name, w.typ, w.change, w.name)
				}
				if a.Event.Detail == "" || !json.Valid([]byte(a.Event.Detail)) {
					t.Errorf("detail %q", a.Event.Detail)
				}
				var n corev1.Node
				json.Unmarshal(a.Event.Data, &n)
				if w.ready != "" {
					for _, c := range n.Status.Conditions {
						if c.Type == corev1.NodeReady && c.Status != w.ready {
							t.Errorf("Ready %s, want %s", c.Status, w.ready)
						}
						if c.Type == corev1.NodeReady && w.ready == corev1.ConditionUnknown && c.Reason == ReasonUnknown && c.Message != MessageUnknown {
							t.Errorf("message %q", c.Message)
						}
					}
				}
				if w.change == events.ChangeSpec {
					var got []string
					for _, t := range n.Spec.Taints {
						got = append(got, t.Key+":"+string(t.Effect))
					}
					if len(got) != len(w.taints) {
						t.Fatalf("taints %v, want %v", got, w.taints)
					}
					for i := range got {
						if got[i] != w.taints[i] {
							t.Fatalf("taints %v, want %v", got, w.taints)
						}
					}
					for _, tt := range n.Spec.Taints {
						if tt.Effect == corev1.TaintEffectNoExecute && tt.Key != "gpu" && (tt.TimeAdded == nil || !tt.TimeAdded.Time.Equal(t0)) {
							t.Errorf("NoExecute taint %s timeAdded %v, want %v", tt.Key, tt.TimeAdded, t0)
						}
					}
				}
			}
			again, _ := Reconcile(v, tc.beats, events.Ref{Resource: "nodes", Name: "n1"}, t0)
			for i := range again {
				if string(again[i].Event.Data) != string(got[i].Event.Data) || again[i].Event.Detail != got[i].Event.Detail {
					t.Fatal("not deterministic")
				}
			}
		})
	}
}

var _ reconcile.View = (*projections.Projection)(nil)
