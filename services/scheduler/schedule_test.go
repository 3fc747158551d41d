package scheduler

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
)

func TestUnschedulableMessage(t *testing.T) {
	tainted := taint(node("c", 4000, 4096, 10), "key", "value", corev1.TaintEffectNoSchedule)
	never := pod("p", 2000, 0)
	never.Spec.PreemptionPolicy = ptr.To(corev1.PreemptNever)
	tests := []struct {
		name  string
		nodes []*corev1.Node
		pod   *corev1.Pod
		want  string
	}{
		{"cpu and taint", []*corev1.Node{node("a", 1000, 4096, 10), node("b", 1000, 4096, 10), tainted}, pod("p", 2000, 0),
			"0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu. " +
				"preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."},
		{"one node, two reasons", []*corev1.Node{node("a", 1000, 100, 10)}, pod("p", 2000, 200),
			"0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."},
		{"preemptionPolicy Never", []*corev1.Node{node("a", 1000, 4096, 10)}, never,
			"0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."},
		{"no nodes", nil, pod("p", 0, 0), "no nodes available to schedule pods"},
		{"unknown priority class", []*corev1.Node{node("a", 1000, 4096, 10)}, func() *corev1.Pod {
			p := pod("p", 0, 0)
			p.Spec.PriorityClassName = "gold"
			return p
		}(), "no PriorityClass with name gold was found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Schedule(NewSnapshot(tt.nodes, nil, nil), tt.pod, "seed")
			if d.Node != "" || d.Message != tt.want {
				t.Errorf("node %q message\n %q, want\n %q", d.Node, d.Message, tt.want)
			}
		})
	}
}

func TestPriorityClasses(t *testing.T) {
	classes := []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "gold"}, Value: 1000},
		{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Value: 7, GlobalDefault: true},
	}
	s := NewSnapshot(nil, nil, classes)
	gold := pod("p", 0, 0)
	gold.Spec.PriorityClassName = "gold"
	for _, tt := range []struct {
		pod  *corev1.Pod
		want int32
	}{{gold, 1000}, {pod("p", 0, 0), 7}, {withPriority(gold, 5), 5}} {
		if got, err := s.Priority(tt.pod); err != nil || got != tt.want {
			t.Errorf("priority %d, %v; want %d", got, err, tt.want)
		}
	}
}

func TestDeterminism(t *testing.T) {
	ns := nodes(300, 4000, 8192, 110)
	var placed []*corev1.Pod
	for i := range 500 {
		placed = append(placed, on(pod(fmt.Sprintf("x-%d", i), 100, 128), ns[(i*7)%len(ns)].Name))
	}
	p := pod("p", 250, 256)
	first := Schedule(NewSnapshot(ns, placed, nil), p, "uid/42")
	for range 5 {
		if d := Schedule(NewSnapshot(ns, placed, nil), p, "uid/42"); !reflect.DeepEqual(d, first) {
			t.Fatalf("same snapshot and seed, different decision:\n%+v\n%+v", d, first)
		}
	}
	chosen := map[string]bool{}
	for i := range 50 {
		chosen[Schedule(NewSnapshot(ns, placed, nil), p, fmt.Sprint("uid/", i)).Node] = true
	}
	if len(chosen) < 2 {
		t.Errorf("50 seeds chose only %v: ties are not shuffled", chosen)
	}
}

func TestPreemption(t *testing.T) {
	ns := []*corev1.Node{node("a", 2000, 4096, 10), node("b", 2000, 4096, 10)}
	placed := []*corev1.Pod{
		on(withPriority(pod("a-low", 1000, 0), 10), "a"),
		on(withPriority(pod("a-mid", 1000, 0), 50), "a"),
		on(withPriority(pod("b-low1", 500, 0), 10), "b"),
		on(withPriority(pod("b-low2", 500, 0), 10), "b"),
		on(withPriority(pod("b-high", 1000, 0), 1000), "b"),
	}
	tests := []struct {
		name        string
		pod         *corev1.Pod
		wantNode    string
		wantVictims []string
	}{
		// On a, the highest victim would be a-low (10); on b, b-low1 and
		// b-low2 (10 each): equal, so the lower sum wins... a has sum 10+offset
		// with one victim, b two victims: a.
		{"fewest, lowest victims", withPriority(pod("p", 1000, 0), 100), "a", []string{"default/a-low"}},
		// 2000m needs all of a (a-mid is 50 < 60) or all lower pods of b (b-high stays): only a.
		{"needs the whole node", withPriority(pod("p", 2000, 0), 60), "a", []string{"default/a-mid", "default/a-low"}},
		{"no lower priority pods", withPriority(pod("p", 1000, 0), 5), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Schedule(NewSnapshot(ns, placed, nil), tt.pod, "s")
			if d.Node != "" || d.NominatedNode != tt.wantNode || !slices.Equal(d.Victims, tt.wantVictims) {
				t.Errorf("node %q nominated %q victims %v, want %q %v (%s)", d.Node, d.NominatedNode, d.Victims, tt.wantNode, tt.wantVictims, d.Message)
			}
		})
	}
}

func TestDetailBounded(t *testing.T) {
	ns := nodes(5000, 100, 100, 110)
	d := Schedule(NewSnapshot(ns, nil, nil), pod("p", 1000, 0), "s")
	if d.Node != "" || len(d.Failures) != 5000 {
		t.Fatalf("want 5000 failures, got %d (node %q)", len(d.Failures), d.Node)
	}
	det := d.Detail()
	var v map[string]any
	if err := json.Unmarshal([]byte(det), &v); err != nil || len(det) > events.MaxDetail {
		t.Fatalf("detail %d bytes, %v", len(det), err)
	}
	if len(det) > 1024 {
		t.Errorf("detail of 5000 identical failures is %d bytes, want a summary", len(det))
	}
	t.Logf("detail: %s", det)
}

func TestLargeClusterEvaluatesAFraction(t *testing.T) {
	ns := nodes(5000, 4000, 8192, 110)
	d := Schedule(NewSnapshot(ns, nil, nil), pod("p", 100, 100), "s")
	if d.Node == "" || d.Evaluated != 500 || d.Feasible != 500 {
		t.Errorf("node %q evaluated %d feasible %d, want 500 of 5000 (upstream's adaptive percentage)", d.Node, d.Evaluated, d.Feasible)
	}
}
