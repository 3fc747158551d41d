package scheduler

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Resources is an amount of the resources the scheduler accounts for.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Pods             int64
}

func (r *Resources) add(o Resources) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.Pods += o.Pods
}

func (r *Resources) sub(o Resources) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.Pods -= o.Pods
}

// The requests upstream assumes, for scoring only, of a container that
// states none (schedutil.DefaultMilliCPURequest, DefaultMemoryRequest).
const (
	defaultMilliCPURequest = 100
	defaultMemoryRequest   = 200 << 20
)

var nonZeroDefaults = corev1.ResourceList{
	corev1.ResourceCPU:    *resource.NewMilliQuantity(defaultMilliCPURequest, resource.DecimalSI),
	corev1.ResourceMemory: *resource.NewQuantity(defaultMemoryRequest, resource.BinarySI),
}

func resourcesOf(l corev1.ResourceList) Resources {
	return Resources{
		MilliCPU:         l.Cpu().MilliValue(),
		Memory:           l.Memory().Value(),
		EphemeralStorage: l.StorageEphemeral().Value(),
	}
}

// PodInfo is a pod with what the scheduler derives from it once: its
// requests (init containers as max(init) against sum(containers), sidecars
// and overhead included, as upstream's PodRequests computes them), its
// priority and its parsed affinity terms.
type PodInfo struct {
	Pod      *corev1.Pod
	Key      string // namespace/name
	Priority int32
	Requests Resources // Pods is 1
	NonZero  Resources // cpu and memory with upstream's defaults for containers without requests
	// RequiredAffinity and RequiredAntiAffinity are the pod's required
	// inter-pod terms, parsed.
	RequiredAffinity     []affinityTerm
	RequiredAntiAffinity []affinityTerm
}

// PodKey is the key of a pod in a Snapshot: namespace/name.
func PodKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// NewPodInfo derives a PodInfo; priority is the pod's resolved priority.
func NewPodInfo(p *corev1.Pod, priority int32) (*PodInfo, error) {
	pi := &PodInfo{Pod: p, Key: PodKey(p), Priority: priority}
	pi.Requests = resourcesOf(resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{}))
	pi.Requests.Pods = 1
	nz := resourcesOf(resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{NonMissingContainerRequests: nonZeroDefaults}))
	pi.NonZero = Resources{MilliCPU: nz.MilliCPU, Memory: nz.Memory}
	if a := p.Spec.Affinity; a != nil {
		var err error
		if a.PodAffinity != nil {
			if pi.RequiredAffinity, err = parseTerms(p, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
				return nil, fmt.Errorf("pod %s: podAffinity: %w", pi.Key, err)
			}
		}
		if a.PodAntiAffinity != nil {
			if pi.RequiredAntiAffinity, err = parseTerms(p, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
				return nil, fmt.Errorf("pod %s: podAntiAffinity: %w", pi.Key, err)
			}
		}
	}
	return pi, nil
}

// terminal reports whether a pod has finished and holds no resources.
func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// NodeInfo is one node and the pods bound (or assumed) to it.
type NodeInfo struct {
	Node          *corev1.Node // nil while pods name a node the view has not shown yet
	Name          string
	Allocatable   Resources
	Requested     Resources
	NonZero       Resources // requested, with non-zero defaults (for scoring)
	Ready         bool
	Unschedulable bool
	pods          map[string]*PodInfo
}

func newNodeInfo(name string) *NodeInfo { return &NodeInfo{Name: name, pods: map[string]*PodInfo{}} }

// Pods returns the node's pods sorted by key.
func (n *NodeInfo) Pods() []*PodInfo {
	out := slices.Collect(maps.Values(n.pods))
	slices.SortFunc(out, func(a, b *PodInfo) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// NumPods is the number of pods counted on the node.
func (n *NodeInfo) NumPods() int { return len(n.pods) }

func (n *NodeInfo) addPod(pi *PodInfo) {
	n.pods[pi.Key] = pi
	n.Requested.add(pi.Requests)
	n.NonZero.add(pi.NonZero)
}

func (n *NodeInfo) removePod(key string) {
	if pi, ok := n.pods[key]; ok {
		delete(n.pods, key)
		n.Requested.sub(pi.Requests)
		n.NonZero.sub(pi.NonZero)
	}
}

// without is a copy of n without the given pods (for preemption's what-if).
func (n *NodeInfo) without(victims []*PodInfo) *NodeInfo {
	c := *n
	c.pods = maps.Clone(n.pods)
	for _, v := range victims {
		c.removePod(v.Key)
	}
	return &c
}

// setNode fills the node's fields and reports whether anything the
// scheduler decides on changed (not heartbeats).
func (n *NodeInfo) setNode(node *corev1.Node) bool {
	old := n.Node
	n.Node = node
	n.Allocatable = resourcesOf(node.Status.Allocatable)
	n.Allocatable.Pods = node.Status.Allocatable.Pods().Value()
	n.Unschedulable = node.Spec.Unschedulable
	ready := false
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	changed := old == nil || ready != n.Ready ||
		!reflect.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) ||
		old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!maps.Equal(old.Labels, node.Labels) ||
		!reflect.DeepEqual(old.Spec.Taints, node.Spec.Taints)
	n.Ready = ready
	return changed
}

// Snapshot is the scheduler's model of the cluster: nodes, the pods bound
// or assumed to them, and the priority classes. Schedule only reads it;
// its owner (the service, or a test) changes it between decisions, which
// is how one round decides many pods against one snapshot (assume, then
// commit). It is not safe for concurrent use.
type Snapshot struct {
	nodes   map[string]*NodeInfo
	order   []*NodeInfo // nodes with a Node, by name; nil when stale
	podNode map[string]string
	// antiAffinity holds the placed pods that have required anti-affinity:
	// the only existing pods that can forbid a node to an incoming pod.
	antiAffinity map[string]*PodInfo
	classes      map[string]schedulingv1.PriorityClass
}

// NewSnapshot builds a snapshot in O(nodes + pods). Pods that are not
// bound, or are terminal, are left out.
func NewSnapshot(nodes []*corev1.Node, pods []*corev1.Pod, classes []*schedulingv1.PriorityClass) *Snapshot {
	s := &Snapshot{
		nodes: map[string]*NodeInfo{}, podNode: map[string]string{},
		antiAffinity: map[string]*PodInfo{}, classes: map[string]schedulingv1.PriorityClass{},
	}
	for _, c := range classes {
		s.SetPriorityClass(c)
	}
	for _, n := range nodes {
		s.SetNode(n)
	}
	for _, p := range pods {
		s.SetPod(p)
	}
	return s
}

// SetNode adds or replaces a node; it reports whether anything a decision
// depends on changed.
func (s *Snapshot) SetNode(node *corev1.Node) bool {
	n := s.nodes[node.Name]
	if n == nil {
		n = newNodeInfo(node.Name)
		s.nodes[node.Name] = n
		s.order = nil
	}
	if n.Node == nil {
		s.order = nil
	}
	return n.setNode(node)
}

// RemoveNode removes a node; its pods stay counted under its name until
// they go, as upstream's cache keeps them.
func (s *Snapshot) RemoveNode(name string) {
	n := s.nodes[name]
	if n == nil {
		return
	}
	s.order = nil
	if len(n.pods) == 0 {
		delete(s.nodes, name)
		return
	}
	n.Node = nil
}

// SetPod records a pod's current state: counted on its node when it is
// bound and not terminal, forgotten otherwise. Its priority is resolved
// from the snapshot's classes when the pod has none.
func (s *Snapshot) SetPod(p *corev1.Pod) {
	if p.Spec.NodeName == "" || terminal(p) {
		s.RemovePod(PodKey(p))
		return
	}
	prio, _ := s.Priority(p)
	pi, err := NewPodInfo(p, prio)
	if err != nil {
		// A pod whose terms do not parse still holds its resources.
		pi = &PodInfo{Pod: p, Key: PodKey(p), Priority: prio}
		pi.Requests = resourcesOf(resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{}))
		pi.Requests.Pods = 1
	}
	s.Assume(pi, p.Spec.NodeName)
}

// Assume counts pi on node before its binding is written, so the next
// decision of the round sees it.
func (s *Snapshot) Assume(pi *PodInfo, node string) {
	s.RemovePod(pi.Key)
	n := s.nodes[node]
	if n == nil {
		n = newNodeInfo(node)
		s.nodes[node] = n
	}
	n.addPod(pi)
	s.podNode[pi.Key] = node
	if len(pi.RequiredAntiAffinity) > 0 {
		s.antiAffinity[pi.Key] = pi
	}
}

// RemovePod forgets a pod (deleted, terminal, or an assumption that was
// not committed).
func (s *Snapshot) RemovePod(key string) {
	node, ok := s.podNode[key]
	if !ok {
		return
	}
	delete(s.podNode, key)
	delete(s.antiAffinity, key)
	if n := s.nodes[node]; n != nil {
		n.removePod(key)
		if n.Node == nil && len(n.pods) == 0 {
			delete(s.nodes, node)
		}
	}
}

// NodeOf returns the node a pod is placed on, if any.
func (s *Snapshot) NodeOf(key string) (string, bool) {
	n, ok := s.podNode[key]
	return n, ok
}

// SetPriorityClass adds or replaces a priority class.
func (s *Snapshot) SetPriorityClass(c *schedulingv1.PriorityClass) { s.classes[c.Name] = *c }

// RemovePriorityClass removes a priority class.
func (s *Snapshot) RemovePriorityClass(name string) { delete(s.classes, name) }

// Priority resolves a pod's priority as the Priority admission plugin
// does: spec.priority when set, else its class's value, else the global
// default class's value, else 0. A class that does not exist is an error.
func (s *Snapshot) Priority(p *corev1.Pod) (int32, error) {
	if p.Spec.Priority != nil {
		return *p.Spec.Priority, nil
	}
	if name := p.Spec.PriorityClassName; name != "" {
		c, ok := s.classes[name]
		if !ok {
			return 0, fmt.Errorf("no PriorityClass with name %s was found", name)
		}
		return c.Value, nil
	}
	var best *schedulingv1.PriorityClass
	for _, c := range s.classes {
		if c.GlobalDefault && (best == nil || c.Value > best.Value || c.Value == best.Value && c.Name < best.Name) {
			best = &c
		}
	}
	if best != nil {
		return best.Value, nil
	}
	return 0, nil
}

// Nodes returns the known nodes sorted by name.
func (s *Snapshot) Nodes() []*NodeInfo {
	if s.order == nil {
		s.order = make([]*NodeInfo, 0, len(s.nodes))
		for _, n := range s.nodes {
			if n.Node != nil {
				s.order = append(s.order, n)
			}
		}
		slices.SortFunc(s.order, func(a, b *NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	}
	return s.order
}

// Node returns one node by name.
func (s *Snapshot) Node(name string) (*NodeInfo, bool) {
	n, ok := s.nodes[name]
	return n, ok && n.Node != nil
}
