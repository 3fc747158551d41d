package daemonset

import (
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	v1helper "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"github.com/wakehq/wake/services/reconcile"
)

// podTemplateGenerationLabel is the deprecated label upstream still sets.
const podTemplateGenerationLabel = appsv1.DeprecatedTemplateGeneration

// decision is what one reconcile of a DaemonSet decides.
type decision struct {
	status   appsv1.DaemonSetStatus
	create   []*corev1.Pod
	delete   []*corev1.Pod
	revs     revisions
	dropRevs []*appsv1.ControllerRevision
}

// placement is what the DaemonSet wants on one node.
type placement struct {
	node *corev1.Node
	// run: a daemon pod should run here; keep: an existing one may stay
	// (it tolerates the node's NoExecute taints).
	run, keep bool
	pods      []*corev1.Pod // live daemon pods targeting the node, oldest first
}

// decide is the controller's pure core: one pod per eligible node, extra
// and misplaced pods deleted, then the rolling update within maxUnavailable
// and maxSurge (OnDelete: only new pods get the new template). seed makes
// generated names deterministic.
func decide(ds *appsv1.DaemonSet, nodes []*corev1.Node, pods []*corev1.Pod, history []*appsv1.ControllerRevision, now time.Time, seed string) decision {
	d := decision{revs: syncRevisions(ds, history)}
	d.dropRevs = oldRevisions(ds, history, d.revs, pods)
	places := placements(ds, nodes, pods)
	d.status = status(ds, places, d.revs.hash, now)
	if ds.DeletionTimestamp != nil {
		return d
	}
	surge, unavailable := budgets(ds, int(d.status.DesiredNumberScheduled))
	rolling := ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType
	var oldOK []placement // nodes whose only pod is old and available: rollout candidates
	var surgeOK []placement
	unavail, surging := 0, 0
	for _, pl := range places {
		var dead, alive []*corev1.Pod
		for _, p := range pl.pods {
			if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
				dead = append(dead, p)
			} else {
				alive = append(alive, p)
			}
		}
		d.delete = append(d.delete, dead...) // replaced on a later pass
		if !pl.run && !(pl.keep && len(alive) > 0) {
			d.delete = append(d.delete, alive...)
			continue
		}
		if !pl.run {
			continue
		}
		var oldP, newP []*corev1.Pod
		for _, p := range alive {
			if p.Labels[appsv1.ControllerRevisionHashLabelKey] == d.revs.hash {
				newP = append(newP, p)
			} else {
				oldP = append(oldP, p)
			}
		}
		// Keep the oldest of each; a second old pod only during a surge.
		if len(newP) > 1 {
			d.delete = append(d.delete, newP[1:]...)
			newP = newP[:1]
		}
		if len(oldP) > 1 || (len(oldP) == 1 && len(newP) == 1 && (!rolling || surge == 0)) {
			keep := 1
			if len(newP) == 1 && (!rolling || surge == 0) {
				keep = 0
			}
			d.delete = append(d.delete, oldP[keep:]...)
			oldP = oldP[:keep]
		}
		switch {
		case len(newP) == 0 && len(oldP) == 0:
			d.create = append(d.create, podFor(ds, d.revs.hash, pl.node.Name, seed+"/"+pl.node.Name))
			unavail++
		case !rolling || len(oldP) == 0:
			if !available(append(newP, oldP...)[0], ds.Spec.MinReadySeconds, now) {
				unavail++
			}
		case len(newP) == 1: // surging: old goes once new is available
			if available(newP[0], ds.Spec.MinReadySeconds, now) {
				d.delete = append(d.delete, oldP[0])
			} else {
				surging++
			}
		case !available(oldP[0], ds.Spec.MinReadySeconds, now):
			// An unavailable old pod is replaced at once, outside the budget.
			unavail++
			if surge > 0 {
				d.create = append(d.create, podFor(ds, d.revs.hash, pl.node.Name, seed+"/"+pl.node.Name))
			} else {
				d.delete = append(d.delete, oldP[0])
			}
		case surge > 0:
			surgeOK = append(surgeOK, pl)
		default:
			oldOK = append(oldOK, pl)
		}
	}
	if !rolling {
		return d
	}
	for i := 0; i < len(surgeOK) && surging < surge; i++ {
		d.create = append(d.create, podFor(ds, d.revs.hash, surgeOK[i].node.Name, seed+"/"+surgeOK[i].node.Name))
		surging++
	}
	for i := 0; i < len(oldOK) && unavail < unavailable; i++ {
		d.delete = append(d.delete, oldOK[i].pods...)
		unavail++
	}
	return d
}

// budgets resolves maxSurge and maxUnavailable against the desired count,
// as upstream: surge rounds up, unavailable down, and at least one of them
// is non-zero.
func budgets(ds *appsv1.DaemonSet, desired int) (surge, unavailable int) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ru == nil {
		return 0, 1
	}
	if ru.MaxSurge != nil {
		surge, _ = intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true)
	}
	if ru.MaxUnavailable != nil {
		unavailable, _ = intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, desired, false)
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// placements decides node by node, in node name order, and attaches each
// live daemon pod to the node it targets.
func placements(ds *appsv1.DaemonSet, nodes []*corev1.Node, pods []*corev1.Pod) []placement {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			n := targetNode(p)
			byNode[n] = append(byNode[n], p)
		}
	}
	var out []placement
	for _, n := range nodes {
		run, keep := shouldRun(ds, n)
		ps := byNode[n.Name]
		sort.SliceStable(ps, func(i, j int) bool {
			a, b := ps[i].CreationTimestamp, ps[j].CreationTimestamp
			if !a.Equal(&b) {
				return a.Before(&b)
			}
			return ps[i].Name < ps[j].Name
		})
		out = append(out, placement{node: n, run: run, keep: keep, pods: ps})
	}
	return out
}

// shouldRun is upstream's NodeShouldRunDaemonPod: the node matches the
// pod's node selector and required affinity, and tolerates its taints
// (with the daemon tolerations added); a pod may keep running on a node
// whose untolerated taints are all NoSchedule.
func shouldRun(ds *appsv1.DaemonSet, node *corev1.Node) (run, keep bool) {
	if node.DeletionTimestamp != nil {
		return false, false
	}
	pod := &corev1.Pod{Spec: *ds.Spec.Template.Spec.DeepCopy()}
	addDaemonTolerations(&pod.Spec)
	if ok, _ := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); !ok {
		return false, false
	}
	isNoSchedOrExec := func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}
	if _, bad := v1helper.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, pod.Spec.Tolerations, isNoSchedOrExec, true); !bad {
		return true, true
	}
	isNoExec := func(t *corev1.Taint) bool { return t.Effect == corev1.TaintEffectNoExecute }
	_, evict := v1helper.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, pod.Spec.Tolerations, isNoExec, true)
	return false, !evict
}

// addDaemonTolerations adds upstream's daemon pod tolerations.
func addDaemonTolerations(s *corev1.PodSpec) {
	add := func(key string, effect corev1.TaintEffect) {
		for _, t := range s.Tolerations {
			if t.Key == key && t.Effect == effect && t.Operator == corev1.TolerationOpExists {
				return
			}
		}
		s.Tolerations = append(s.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect})
	}
	add(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)
	if s.HostNetwork {
		add(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)
	}
}

// podFor is the daemon pod for one node: unbound, with a required node
// affinity on metadata.name so that the scheduler binds it there.
func podFor(ds *appsv1.DaemonSet, hash, node, seed string) *corev1.Pod {
	tmpl := ds.Spec.Template.DeepCopy()
	labels := tmpl.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	labels[appsv1.ControllerRevisionHashLabelKey] = hash
	labels[podTemplateGenerationLabel] = strconv.FormatInt(ds.Generation, 10)
	base := ds.Name + "-"
	if len(base) > 58 {
		base = base[:58]
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: base + reconcile.NameSuffix(seed), Namespace: ds.Namespace,
			Labels: labels, Annotations: tmpl.Annotations, Finalizers: tmpl.Finalizers,
			OwnerReferences: []metav1.OwnerReference{ownerRef(ds)},
		},
		Spec: tmpl.Spec,
	}
	addDaemonTolerations(&p.Spec)
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &corev1.Affinity{}
	}
	if p.Spec.Affinity.NodeAffinity == nil {
		p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
			Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node},
		}}}},
	}
	return p
}

// targetNode is the node a daemon pod is bound to or aimed at.
func targetNode(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range t.MatchFields {
			if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// status counts as upstream's updateDaemonSetStatus.
func status(ds *appsv1.DaemonSet, places []placement, hash string, now time.Time) appsv1.DaemonSetStatus {
	st := appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, CollisionCount: ds.Status.CollisionCount, Conditions: ds.Status.Conditions}
	for _, pl := range places {
		if pl.run {
			st.DesiredNumberScheduled++
		}
		if len(pl.pods) == 0 {
			continue
		}
		if !pl.run {
			st.NumberMisscheduled++
			continue
		}
		st.CurrentNumberScheduled++
		p := pl.pods[0]
		for _, q := range pl.pods { // prefer the updated pod when surging
			if q.Labels[appsv1.ControllerRevisionHashLabelKey] == hash {
				p = q
			}
		}
		if ready(p) {
			st.NumberReady++
			if available(p, ds.Spec.MinReadySeconds, now) {
				st.NumberAvailable++
			}
		}
		if p.Labels[appsv1.ControllerRevisionHashLabelKey] == hash {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	return st
}

func ready(p *corev1.Pod) bool { return readyCondition(p) != nil }

func available(p *corev1.Pod, minReady int32, now time.Time) bool {
	c := readyCondition(p)
	return c != nil && (minReady == 0 || !c.LastTransitionTime.Add(time.Duration(minReady)*time.Second).After(now))
}

func readyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}
