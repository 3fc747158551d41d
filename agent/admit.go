package agent

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"
	v1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"

	"github.com/wakehq/wake/agent/eviction"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// rejection is why the node refused a pod, in the kubelet's words: the
// pod's status.reason and status.message.
type rejection struct {
	Reason  string
	Message string
}

// admit is the kubelet's resource admission: pod fits when its requests
// (init containers as the max, sidecars and overhead included, as
// upstream's PodRequests computes them) and one more pod fit in alloc
// beside the requests of the pods already admitted. nil means admitted.
// Like the scheduler's fit check, it looks at pods first, then cpu,
// memory, ephemeral-storage, then any other requested resource, and
// reports the first one short.
func admit(alloc corev1.ResourceList, admitted []*corev1.Pod, pod *corev1.Pod) *rejection {
	if capPods := alloc.Pods().Value(); int64(len(admitted))+1 > capPods {
		return insufficient(corev1.ResourcePods, 1, int64(len(admitted)), capPods)
	}
	want := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	used := corev1.ResourceList{}
	for _, p := range admitted {
		for name, q := range resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{}) {
			sum := used[name]
			sum.Add(q)
			used[name] = sum
		}
	}
	names := []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage}
	var others []corev1.ResourceName
	for name := range want {
		if !slices.Contains(names, name) && name != corev1.ResourcePods {
			others = append(others, name)
		}
	}
	slices.Sort(others)
	for _, name := range append(names, others...) {
		q, ok := want[name]
		if !ok || q.IsZero() {
			continue
		}
		value := func(l corev1.ResourceList) int64 {
			v := l[name]
			if name == corev1.ResourceCPU {
				return v.MilliValue()
			}
			return v.Value()
		}
		req, u, c := value(want), value(used), value(alloc)
		if req+u > c {
			return insufficient(name, req, u, c)
		}
	}
	return nil
}

func insufficient(name corev1.ResourceName, requested, used, capacity int64) *rejection {
	return &rejection{
		Reason: "OutOf" + string(name),
		Message: fmt.Sprintf("Pod was rejected: Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d",
			name, requested, used, capacity),
	}
}

// admitUnderPressure is the kubelet eviction manager's admission: under
// MemoryPressure alone only BestEffort pods are refused (unless they
// tolerate the memory-pressure taint); under DiskPressure or PIDPressure
// every pod is. Critical pods are always admitted.
func admitUnderPressure(p eviction.Pressure, pod *corev1.Pod) *rejection {
	var conds []string
	for _, c := range []struct {
		on   bool
		name corev1.NodeConditionType
	}{{p.Memory, corev1.NodeMemoryPressure}, {p.Disk, corev1.NodeDiskPressure}, {p.PID, corev1.NodePIDPressure}} {
		if c.on {
			conds = append(conds, string(c.name))
		}
	}
	if len(conds) == 0 || pod.Spec.Priority != nil && *pod.Spec.Priority >= eviction.SystemCriticalPriority {
		return nil
	}
	if len(conds) == 1 && p.Memory {
		memTaint := &corev1.Taint{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}
		if !bestEffort(pod) || v1helper.TolerationsTolerateTaint(klog.Background(), pod.Spec.Tolerations, memTaint, false) {
			return nil
		}
	}
	return &rejection{Reason: "Evicted", Message: fmt.Sprintf("Pod was rejected: The node had condition: [%s]. ", strings.Join(conds, " "))}
}

// bestEffort reports whether pod is of the BestEffort QoS class: no
// container asks for or is limited in cpu or memory.
func bestEffort(pod *corev1.Pod) bool {
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		for _, l := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if q, ok := l[r]; ok && !q.IsZero() {
					return false
				}
			}
		}
	}
	return true
}

// wasAdmitted reports whether an earlier run of the agent admitted pod: it
// has started on this node (the agent sets startTime) and has not ended.
func wasAdmitted(pod *corev1.Pod) bool {
	return pod.Status.StartTime != nil && !terminal(pod)
}

// admissionOrder sorts the pods of a resync as the agent admits them: the
// pods an earlier run admitted first (they keep running whatever comes
// after), then by creation time and name, so a restart decides as before.
func admissionOrder(objs []*projections.Object) []*projections.Object {
	type item struct {
		o    *projections.Object
		p    corev1.Pod
		prev bool
	}
	items := make([]item, 0, len(objs))
	for _, o := range objs {
		it := item{o: o}
		if reconcile.DecodeInto(o, &it.p) == nil {
			it.prev = wasAdmitted(&it.p)
		}
		items = append(items, it)
	}
	slices.SortStableFunc(items, func(a, b item) int {
		if a.prev != b.prev {
			if a.prev {
				return -1
			}
			return 1
		}
		if c := a.p.CreationTimestamp.Time.Compare(b.p.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.o.Ref.Namespace, b.o.Ref.Namespace), strings.Compare(a.o.Ref.Name, b.o.Ref.Name))
	})
	out := make([]*projections.Object, len(items))
	for i, it := range items {
		out[i] = it.o
	}
	return out
}

// admitLocked decides on the pod of a new worker (a.mu held): terminal
// pods and pods an earlier run admitted are not checked; others must fit
// beside the non-terminal pods of the workers admitted so far.
func (a *Agent) admitLocked(o *projections.Object) *rejection {
	var pod corev1.Pod
	if reconcile.DecodeInto(o, &pod) != nil || wasAdmitted(&pod) || pod.DeletionTimestamp != nil {
		return nil
	}
	if terminal(&pod) {
		if pod.Status.StartTime == nil && pod.Status.Reason != "" {
			// Refused by an earlier run: stays so, and nothing is rewritten.
			return &rejection{Reason: pod.Status.Reason, Message: pod.Status.Message}
		}
		return nil
	}
	var admitted []*corev1.Pod
	for uid, w := range a.workers {
		if w.rejected != nil || uid == o.UID {
			continue
		}
		wo, ok := a.cfg.View.Get(w.ref)
		if !ok || wo.UID != uid {
			continue
		}
		var p corev1.Pod
		if reconcile.DecodeInto(wo, &p) != nil || terminal(&p) {
			continue
		}
		admitted = append(admitted, &p)
	}
	rej := admit(a.allocatable(), admitted, &pod)
	if rej == nil {
		rej = admitUnderPressure(a.eviction.Pressure(), &pod)
	}
	if rej != nil {
		a.log.Info("pod rejected", "pod", o.Ref.String(), "reason", rej.Reason, "message", rej.Message)
	}
	return rej
}

// allocatable is the node's status.allocatable as the log has it (what
// the scheduler saw), else what the agent would report for the machine.
func (a *Agent) allocatable() corev1.ResourceList {
	if o, ok := a.cfg.View.Get(events.Ref{Resource: "nodes", Name: a.cfg.NodeName}); ok {
		if n, err := decodeNode(o); err == nil && n.Status.Allocatable != nil {
			return n.Status.Allocatable
		}
	}
	return nodeStatus(a.machine, a.cfg.Version, nil, a.now()).Allocatable
}

// reportRejected writes the status of a pod the node refused: phase
// Failed with the kubelet's reason and message, no container started.
func (w *podWorker) reportRejected(ctx context.Context, o *projections.Object, pod *corev1.Pod) time.Duration {
	st := pod.Status.DeepCopy()
	st.Phase, st.Reason, st.Message = corev1.PodFailed, w.rejected.Reason, w.rejected.Message
	if equalStatus(pod.Status, *st) {
		return 0
	}
	next := pod.DeepCopy()
	next.Status = *st
	ap, err := reconcile.Update(podKind, next, o, events.ChangeStatus)
	if err == nil {
		_, err = w.a.append(ctx, ap)
	}
	switch {
	case err == nil, ctx.Err() != nil:
		return 0
	case isConflict(err):
		w.a.catchUp(ctx)
		return time.Millisecond
	}
	w.a.log.Warn("pod status not written; retrying", "pod", w.ref.String(), "err", err)
	return time.Second
}
