package nodelifecycle

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Name is the controller's actor name.
const Name = "system:controller:node-lifecycle"

// GracePeriod is how long a node may stay silent before it is Unknown
// (upstream's node-monitor-grace-period).
const GracePeriod = 40 * time.Second

// Condition reasons and messages, as upstream writes them.
const (
	ReasonUnknown      = "NodeStatusUnknown"
	MessageUnknown     = "Kubelet stopped posting node status."
	ReasonNeverUpdated = "NodeStatusNeverUpdated"
	MessageNever       = "Kubelet never posted node status."
	ReasonReady        = "KubeletReady"
	MessageReady       = "kubelet is posting ready status"
)

// Heartbeats maps a node name to its latest heartbeat. It is an input of
// Reconcile: heartbeats are not in the log.
type Heartbeats map[string]time.Time

var (
	nodes = reconcile.MustKind("", "nodes")
	pods  = reconcile.MustKind("", "pods")
)

// detail is the input and reason of a decision, recorded in Event.Detail.
type detail struct {
	Decision      string    `json:"decision"`
	Node          string    `json:"node"`
	Now           time.Time `json:"now"`
	Heartbeat     time.Time `json:"heartbeat,omitzero"` // from the heartbeat bucket
	LastSeen      time.Time `json:"lastSeen,omitzero"`  // the latest sign of life used
	GracePeriod   string    `json:"gracePeriod,omitempty"`
	Taint         string    `json:"taint,omitempty"`
	TimeAdded     time.Time `json:"timeAdded,omitzero"`
	TolerationSec *int64    `json:"tolerationSeconds,omitempty"`
}

func (d detail) String() string {
	b, _ := json.Marshal(d)
	return string(b)
}

// Reconcile decides for one node (key): first its conditions, then its
// taints, then the eviction of its pods, one step per round.
func Reconcile(view reconcile.View, beats Heartbeats, key events.Ref, now time.Time) ([]reconcile.Append, error) {
	o, ok := view.Get(key)
	if !ok {
		return nil, nil
	}
	var node corev1.Node
	if err := reconcile.DecodeInto(o, &node); err != nil {
		return nil, err
	}
	d := detail{Node: node.Name, Now: now.UTC(), Heartbeat: beats[node.Name], GracePeriod: GracePeriod.String()}
	if a, err := conditions(&node, o, beats, now, &d); a != nil || err != nil {
		return wrap(a, err)
	}
	if a, err := taints(&node, o, now, d); a != nil || err != nil {
		return wrap(a, err)
	}
	return evictions(view, &node, now, d)
}

func wrap(a *reconcile.Append, err error) ([]reconcile.Append, error) {
	if err != nil {
		return nil, err
	}
	return []reconcile.Append{*a}, nil
}

// lastSeen is the latest sign of life of a node.
func lastSeen(node *corev1.Node, beats Heartbeats) time.Time {
	t := node.CreationTimestamp.Time
	if r := condition(node, corev1.NodeReady); r != nil && r.LastHeartbeatTime.After(t) {
		t = r.LastHeartbeatTime.Time
	}
	if b := beats[node.Name]; b.After(t) {
		t = b
	}
	return t
}

func condition(node *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == t {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}

var pressure = []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure}

// conditions marks a silent node Unknown, and a node whose heartbeats came
// back Ready again (only the conditions this controller set).
func conditions(node *corev1.Node, o *projections.Object, beats Heartbeats, now time.Time, d *detail) (*reconcile.Append, error) {
	seen := lastSeen(node, beats)
	d.LastSeen = seen.UTC()
	stale := now.Sub(seen) >= GracePeriod
	ready := condition(node, corev1.NodeReady)
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	changed := false
	switch {
	case stale && ready == nil:
		node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
			Reason: ReasonNeverUpdated, Message: MessageNever, LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: ts})
		changed = true
		d.Decision = "node never posted a heartbeat: Ready Unknown"
	case stale && ready.Status != corev1.ConditionUnknown:
		for i := range node.Status.Conditions {
			c := &node.Status.Conditions[i]
			if c.Type == corev1.NodeReady || slices.Contains(pressure, c.Type) {
				c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionUnknown, ReasonUnknown, MessageUnknown, ts
			}
		}
		changed = true
		d.Decision = "no heartbeat within the grace period: conditions Unknown"
	case !stale && ready != nil && ready.Status == corev1.ConditionUnknown && (ready.Reason == ReasonUnknown || ready.Reason == ReasonNeverUpdated):
		hb := metav1.NewTime(seen.UTC().Truncate(time.Second))
		for i := range node.Status.Conditions {
			c := &node.Status.Conditions[i]
			if c.Status != corev1.ConditionUnknown || (c.Reason != ReasonUnknown && c.Reason != ReasonNeverUpdated) {
				continue
			}
			switch {
			case c.Type == corev1.NodeReady:
				c.Status, c.Reason, c.Message = corev1.ConditionTrue, ReasonReady, MessageReady
			case slices.Contains(pressure, c.Type):
				c.Status, c.Reason, c.Message = corev1.ConditionFalse, "KubeletHasNo"+string(c.Type), "heartbeats resumed"
			default:
				continue
			}
			c.LastTransitionTime, c.LastHeartbeatTime = ts, hb
		}
		changed = true
		d.Decision = "heartbeats resumed: Ready True"
	}
	if !changed {
		return nil, nil
	}
	a, err := reconcile.Update(nodes, node, o, events.ChangeStatus)
	a.Event.Detail = d.String()
	return &a, err
}

// controllerTaints are the taints this controller owns.
var controllerTaints = []corev1.Taint{
	{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute},
	{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
	{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute},
}

// wantTaints are the controller's taints a node should have.
func wantTaints(node *corev1.Node) []corev1.Taint {
	ready := condition(node, corev1.NodeReady)
	if ready == nil {
		return nil
	}
	switch ready.Status {
	case corev1.ConditionUnknown:
		return controllerTaints[0:2]
	case corev1.ConditionFalse:
		return controllerTaints[2:4]
	}
	return nil
}

func owned(t corev1.Taint) bool {
	return slices.ContainsFunc(controllerTaints, func(c corev1.Taint) bool { return c.MatchTaint(&t) })
}

// taints brings the controller's taints in line with the Ready condition.
func taints(node *corev1.Node, o *projections.Object, now time.Time, d detail) (*reconcile.Append, error) {
	want := wantTaints(node)
	var next []corev1.Taint
	changed := false
	for _, t := range node.Spec.Taints {
		if owned(t) && !slices.ContainsFunc(want, func(w corev1.Taint) bool { return w.MatchTaint(&t) }) {
			changed = true
			continue
		}
		next = append(next, t)
	}
	for _, w := range want {
		if slices.ContainsFunc(next, func(t corev1.Taint) bool { return t.MatchTaint(&w) }) {
			continue
		}
		if w.Effect == corev1.TaintEffectNoExecute {
			ts := metav1.NewTime(now.UTC().Truncate(time.Second))
			w.TimeAdded = &ts
		}
		next = append(next, w)
		changed = true
	}
	if !changed {
		return nil, nil
	}
	node.Spec.Taints = next
	d.Decision = "taints follow the Ready condition"
	if r := condition(node, corev1.NodeReady); r != nil {
		d.Decision += " (" + string(r.Status) + ")"
	}
	a, err := reconcile.Update(nodes, node, o, events.ChangeSpec)
	a.Event.Detail = d.String()
	return &a, err
}

// evictions deletes the pods of the node that no longer tolerate its
// NoExecute taints.
func evictions(view reconcile.View, node *corev1.Node, now time.Time, d detail) ([]reconcile.Append, error) {
	var noExecute []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			noExecute = append(noExecute, t)
		}
	}
	if len(noExecute) == 0 {
		return nil, nil // no pod listing on healthy nodes
	}
	objs, _ := view.List("", "pods", "")
	var out []reconcile.Append
	for _, po := range objs {
		var pod corev1.Pod
		if err := reconcile.DecodeInto(po, &pod); err != nil {
			return nil, err
		}
		if pod.Spec.NodeName != node.Name || pod.DeletionTimestamp != nil {
			continue
		}
		pd, evict := evict(&pod, noExecute, now, d)
		if !evict {
			continue
		}
		a, err := reconcile.Delete(pods, po, now)
		if err != nil {
			return nil, err
		}
		a.Event.Detail = pd.String()
		out = append(out, a)
	}
	return out, nil
}

var noLog = logr.Discard()

// evict decides for one pod on a node with NoExecute taints.
func evict(pod *corev1.Pod, noExecute []corev1.Taint, now time.Time, d detail) (detail, bool) {
	for _, t := range noExecute {
		d.Taint = t.Key + ":" + string(t.Effect)
		d.TimeAdded = time.Time{}
		if t.TimeAdded != nil {
			d.TimeAdded = t.TimeAdded.UTC()
		}
		var min *int64
		tolerated := false
		for _, tol := range pod.Spec.Tolerations {
			if !tol.ToleratesTaint(noLog, &t, true) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds == nil {
				continue
			}
			if min == nil || *tol.TolerationSeconds < *min {
				s := *tol.TolerationSeconds
				min = &s
			}
		}
		d.TolerationSec = min
		if !tolerated {
			d.Decision = fmt.Sprintf("evicted: pod does not tolerate %s", d.Taint)
			return d, true
		}
		if min == nil {
			continue // tolerated forever
		}
		added := now
		if t.TimeAdded != nil {
			added = t.TimeAdded.Time
		}
		if *min <= 0 || !now.Before(added.Add(time.Duration(*min)*time.Second)) {
			d.Decision = fmt.Sprintf("evicted: tolerationSeconds %d for %s elapsed", *min, d.Taint)
			return d, true
		}
	}
	return d, false
}
