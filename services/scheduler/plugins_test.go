package scheduler

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// filterAll runs the filters for p on every node of a snapshot and returns
// the feasible nodes and each other node's "plugin: reasons".
func filterAll(t *testing.T, ns []*corev1.Node, placed []*corev1.Pod, p *corev1.Pod) ([]string, map[string]string) {
	t.Helper()
	s := NewSnapshot(ns, placed, nil)
	prio, _ := s.Priority(p)
	pi, err := NewPodInfo(p, prio)
	if err != nil {
		t.Fatal(err)
	}
	c := newCycle(s, pi)
	var ok []string
	failed := map[string]string{}
	for _, n := range s.Nodes() {
		if plugin, st := c.filter(n); st != nil {
			failed[n.Name] = plugin + ": " + strings.Join(st.Reasons, ", ")
		} else {
			ok = append(ok, n.Name)
		}
	}
	return ok, failed
}

type filterCase struct {
	name   string
	nodes  []*corev1.Node
	placed []*corev1.Pod
	pod    *corev1.Pod
	want   []string          // feasible nodes
	reason map[string]string // some failed nodes' "plugin: reasons"
}

func runFilterCases(t *testing.T, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, failed := filterAll(t, tc.nodes, tc.placed, tc.pod)
			if !slices.Equal(got, tc.want) {
				t.Errorf("feasible %v, want %v (failures %v)", got, tc.want, failed)
			}
			for n, r := range tc.reason {
				if failed[n] != r {
					t.Errorf("node %s: %q, want %q", n, failed[n], r)
				}
			}
		})
	}
}

func TestNodeResourcesFit(t *testing.T) {
	withInit := func(p *corev1.Pod, cpu int64) *corev1.Pod {
		p = p.DeepCopy()
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(cpu, resource.DecimalSI)}}}}
		return p
	}
	twoContainers := func(cpu int64) *corev1.Pod {
		p := pod("p", cpu, 0)
		c := p.Spec.Containers[0]
		c.Name = "d"
		p.Spec.Containers = append(p.Spec.Containers, c)
		return p
	}
	done := on(pod("done", 1000, 0), "a")
	done.Status.Phase = corev1.PodSucceeded
	runFilterCases(t, []filterCase{
		{name: "fits", nodes: []*corev1.Node{node("a", 1000, 1024, 10)}, pod: pod("p", 1000, 1024), want: []string{"a"}},
		{name: "insufficient cpu counts bound pods",
			nodes: []*corev1.Node{node("a", 1000, 1024, 10), node("b", 2000, 1024, 10)}, placed: []*corev1.Pod{on(pod("x", 500, 0), "a")},
			pod: pod("p", 600, 0), want: []string{"b"}, reason: map[string]string{"a": "NodeResourcesFit: Insufficient cpu"}},
		{name: "cpu and memory both short",
			nodes: []*corev1.Node{node("a", 100, 100, 10)}, pod: pod("p", 200, 200),
			reason: map[string]string{"a": "NodeResourcesFit: Insufficient cpu, Insufficient memory"}},
		{name: "too many pods",
			nodes: []*corev1.Node{node("a", 1000, 1024, 1)}, placed: []*corev1.Pod{on(pod("x", 0, 0), "a")},
			pod: pod("p", 0, 0), reason: map[string]string{"a": "NodeResourcesFit: Too many pods"}},
		{name: "terminal pods free their room",
			nodes: []*corev1.Node{node("a", 1000, 1024, 1)}, placed: []*corev1.Pod{done}, pod: pod("p", 1000, 0), want: []string{"a"}},
		{name: "containers sum", nodes: []*corev1.Node{node("a", 1500, 1024, 10)}, pod: twoContainers(800),
			reason: map[string]string{"a": "NodeResourcesFit: Insufficient cpu"}},
		{name: "init below the sum costs nothing", nodes: []*corev1.Node{node("a", 1600, 1024, 10)}, pod: withInit(twoContainers(800), 1500), want: []string{"a"}},
		{name: "init above the sum is the request", nodes: []*corev1.Node{node("a", 1600, 1024, 10)}, pod: withInit(twoContainers(800), 1700),
			reason: map[string]string{"a": "NodeResourcesFit: Insufficient cpu"}},
		{name: "no requests fit a full node", nodes: []*corev1.Node{node("a", 1000, 1024, 10)}, placed: []*corev1.Pod{on(pod("x", 1000, 1024), "a")},
			pod: pod("p", 0, 0), want: []string{"a"}},
	})
}

func TestNodeFilters(t *testing.T) {
	notReady := node("nr", 1000, 1024, 10)
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	cordoned := node("cordoned", 1000, 1024, 10)
	cordoned.Spec.Unschedulable = true
	tolerating := pod("p", 0, 0)
	tolerating.Spec.Tolerations = []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists},
	}
	ok := node("ok", 1000, 1024, 10)
	runFilterCases(t, []filterCase{
		{name: "not ready and cordoned are skipped", nodes: []*corev1.Node{notReady, cordoned, ok}, pod: pod("p", 0, 0), want: []string{"ok"},
			reason: map[string]string{
				"nr":       "NodeReady: node(s) had untolerated taint {node.kubernetes.io/not-ready: }",
				"cordoned": "NodeUnschedulable: node(s) were unschedulable",
			}},
		{name: "tolerations let a DaemonSet pod in", nodes: []*corev1.Node{notReady, cordoned, ok}, pod: tolerating, want: []string{"cordoned", "nr", "ok"}},
	})
}

func TestTaintToleration(t *testing.T) {
	gpu := taint(node("gpu", 1000, 1024, 10), "gpu", "true", corev1.TaintEffectNoSchedule)
	drain := taint(node("drain", 1000, 1024, 10), "drain", "", corev1.TaintEffectNoExecute)
	soft := taint(node("soft", 1000, 1024, 10), "soft", "x", corev1.TaintEffectPreferNoSchedule)
	plain := node("plain", 1000, 1024, 10)
	tolerant := pod("p", 0, 0)
	tolerant.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule}}
	wrongValue := pod("p", 0, 0)
	wrongValue.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpEqual, Value: "false"}}
	runFilterCases(t, []filterCase{
		{name: "NoSchedule and NoExecute filter, PreferNoSchedule does not",
			nodes: []*corev1.Node{drain, gpu, plain, soft}, pod: pod("p", 0, 0), want: []string{"plain", "soft"},
			reason: map[string]string{"gpu": "TaintToleration: node(s) had untolerated taint {gpu: true}", "drain": "TaintToleration: node(s) had untolerated taint {drain: }"}},
		{name: "tolerated", nodes: []*corev1.Node{gpu}, pod: tolerant, want: []string{"gpu"}},
		{name: "value must match", nodes: []*corev1.Node{gpu}, pod: wrongValue},
	})
	// PreferNoSchedule: the untainted node scores 100, the tainted one 0.
	s := NewSnapshot([]*corev1.Node{plain, soft}, nil, nil)
	pi, _ := NewPodInfo(pod("p", 0, 0), 0)
	c := newCycle(s, pi)
	scores := []int64{TaintToleration{}.Score(c, s.Nodes()[0]), TaintToleration{}.Score(c, s.Nodes()[1])}
	TaintToleration{}.Normalize(c, scores)
	if !slices.Equal(scores, []int64{100, 0}) {
		t.Errorf("PreferNoSchedule scores %v, want [100 0]", scores)
	}
}

func TestNodeAffinity(t *testing.T) {
	ns := []*corev1.Node{node("a", 1000, 1024, 10, "disk", "ssd"), node("b", 1000, 1024, 10, "disk", "hdd"), node("c", 1000, 1024, 10)}
	selector := pod("p", 0, 0)
	selector.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	required := pod("p", 0, 0)
	required.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpExists}}}}}}}
	runFilterCases(t, []filterCase{
		{name: "nodeSelector", nodes: ns, pod: selector, want: []string{"a"}, reason: map[string]string{"b": "NodeAffinity: node(s) didn't match Pod's node affinity/selector"}},
		{name: "required affinity", nodes: ns, pod: required, want: []string{"a", "b"}},
		{name: "no constraints", nodes: ns, pod: pod("p", 0, 0), want: []string{"a", "b", "c"}},
	})
	preferred := pod("p", 0, 0)
	preferred.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
			{Weight: 10, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"hdd"}}}}},
			{Weight: 5, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}}},
		}}}
	for seed := range 5 {
		if d := Schedule(NewSnapshot(ns, nil, nil), preferred, string(rune('a'+seed))); d.Node != "b" {
			t.Errorf("preferred affinity chose %q, want b (scores %+v)", d.Node, d.Scores)
		}
	}
}

func antiAffinity(p *corev1.Pod, key string, kv ...string) *corev1.Pod {
	p = p.DeepCopy()
	p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
		{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{kv[0]: kv[1]}}, TopologyKey: key}}}}
	return p
}

func affinity(p *corev1.Pod, key string, kv ...string) *corev1.Pod {
	p = p.DeepCopy()
	p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
		{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{kv[0]: kv[1]}}, TopologyKey: key}}}}
	return p
}

func TestInterPodAffinity(t *testing.T) {
	zone := corev1.LabelTopologyZone
	ns := []*corev1.Node{node("a", 1000, 1024, 10, zone, "z1"), node("b", 1000, 1024, 10, zone, "z1"), node("c", 1000, 1024, 10, zone, "z2")}
	web := withLabels(pod("web-0", 0, 0), "app", "web")
	db := withLabels(pod("db-0", 0, 0), "app", "db")
	runFilterCases(t, []filterCase{
		{name: "anti-affinity by hostname", nodes: ns, placed: []*corev1.Pod{on(web, "a")},
			pod: antiAffinity(withLabels(pod("web-1", 0, 0), "app", "web"), corev1.LabelHostname, "app", "web"), want: []string{"b", "c"},
			reason: map[string]string{"a": "InterPodAffinity: node(s) didn't match pod anti-affinity rules"}},
		{name: "anti-affinity by zone", nodes: ns, placed: []*corev1.Pod{on(web, "a")},
			pod: antiAffinity(pod("web-1", 0, 0), zone, "app", "web"), want: []string{"c"}},
		{name: "other namespaces do not count", nodes: ns, placed: []*corev1.Pod{func() *corev1.Pod { p := on(web, "a"); p.Namespace = "other"; return p }()},
			pod: antiAffinity(pod("web-1", 0, 0), zone, "app", "web"), want: []string{"a", "b", "c"}},
		{name: "existing pods' anti-affinity is symmetric", nodes: ns, placed: []*corev1.Pod{on(antiAffinity(db, zone, "app", "web"), "c")},
			pod: web, want: []string{"a", "b"}, reason: map[string]string{"c": "InterPodAffinity: node(s) didn't satisfy existing pods anti-affinity rules"}},
		{name: "affinity by zone", nodes: ns, placed: []*corev1.Pod{on(db, "c")},
			pod: affinity(web, zone, "app", "db"), want: []string{"c"},
			reason: map[string]string{"a": "InterPodAffinity: node(s) didn't match pod affinity rules"}},
		{name: "affinity with no match anywhere fails", nodes: ns, pod: affinity(web, zone, "app", "db")},
		{name: "the first pod of a self-selecting group goes anywhere", nodes: ns, pod: affinity(web, zone, "app", "web"), want: []string{"a", "b", "c"}},
	})
}

func TestPodTopologySpread(t *testing.T) {
	zone := corev1.LabelTopologyZone
	ns := []*corev1.Node{node("a", 1000, 1024, 10, zone, "z1"), node("b", 1000, 1024, 10, zone, "z2"), node("c", 1000, 1024, 10, zone, "z3"), node("nolabel", 1000, 1024, 10)}
	spread := func(when corev1.UnsatisfiableConstraintAction, skew int32, minDomains *int32) *corev1.Pod {
		p := withLabels(pod("web-9", 0, 0), "app", "web")
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: skew, TopologyKey: zone, WhenUnsatisfiable: when, MinDomains: minDomains,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		}}
		return p
	}
	web := func(name, n string) *corev1.Pod { return on(withLabels(pod(name, 0, 0), "app", "web"), n) }
	placed := []*corev1.Pod{web("w1", "a"), web("w2", "a"), web("w3", "b")}
	runFilterCases(t, []filterCase{
		{name: "maxSkew 1 sends the pod to the emptiest zone", nodes: ns, placed: placed, pod: spread(corev1.DoNotSchedule, 1, nil), want: []string{"c"},
			reason: map[string]string{
				"a":       "PodTopologySpread: node(s) didn't match pod topology spread constraints",
				"nolabel": "PodTopologySpread: node(s) didn't match pod topology spread constraints (missing required label)",
			}},
		{name: "maxSkew 2 allows the middle zone", nodes: ns, placed: placed, pod: spread(corev1.DoNotSchedule, 2, nil), want: []string{"b", "c"}},
		{name: "minDomains above the domains makes the minimum 0", nodes: ns[:2], placed: placed, pod: spread(corev1.DoNotSchedule, 2, ptr.To[int32](3)), want: []string{"b"}},
		{name: "ScheduleAnyway does not filter", nodes: ns, placed: placed, pod: spread(corev1.ScheduleAnyway, 1, nil), want: []string{"a", "b", "c", "nolabel"}},
	})
	for _, seed := range []string{"1", "2", "3"} {
		if d := Schedule(NewSnapshot(ns, placed, nil), spread(corev1.ScheduleAnyway, 1, nil), seed); d.Node != "c" {
			t.Errorf("ScheduleAnyway chose %s, want c (%+v)", d.Node, d.Scores)
		}
	}
}

func TestResourceScores(t *testing.T) {
	// LeastAllocated prefers the emptier node; BalancedAllocation the one
	// whose cpu and memory fractions are closer.
	ns := []*corev1.Node{node("a", 4000, 4096, 10), node("b", 4000, 4096, 10)}
	placed := []*corev1.Pod{on(pod("x", 2000, 2048), "a")}
	for _, seed := range []string{"1", "2", "3"} {
		if d := Schedule(NewSnapshot(ns, placed, nil), pod("p", 500, 512), seed); d.Node != "b" {
			t.Errorf("chose %s, want the emptier b (%+v)", d.Node, d.Scores)
		}
	}
	s := NewSnapshot(ns, []*corev1.Pod{on(pod("x", 2000, 0), "a")}, nil)
	pi, _ := NewPodInfo(pod("p", 0, 2048), 0)
	c := newCycle(s, pi)
	a, _ := s.Node("a")
	b, _ := s.Node("b")
	if sa, sb := (NodeResourcesBalancedAllocation{}).Score(c, a), (NodeResourcesBalancedAllocation{}).Score(c, b); sa <= sb {
		t.Errorf("balanced: a %d <= b %d, but a would be 52%%/50%% used and b 2%%/50%%", sa, sb)
	}
}
