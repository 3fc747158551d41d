package deployment

import (
	"fmt"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// syncStatusOnly updates the status of a Deployment being deleted.
func (p *plan) syncStatusOnly() error {
	newRS, old, err := p.getAllReplicaSetsAndSyncRevision(false)
	if err != nil {
		return err
	}
	p.d.Status = calculateStatus(append(old, newRS), newRS, p.d, p.now)
	return nil
}

// syncScale handles scaling events and paused Deployments (upstream's sync).
func (p *plan) syncScale() error {
	newRS, old, err := p.getAllReplicaSetsAndSyncRevision(false)
	if err != nil {
		return err
	}
	p.scaleProportionally(newRS, old)
	if p.d.Spec.Paused {
		p.cleanup(old)
	}
	p.d.Status = calculateStatus(append(old, newRS), newRS, p.d, p.now)
	return nil
}

// checkPausedConditions records a pause or resume in Progressing, so that
// a paused Deployment does not time out.
func (p *plan) checkPausedConditions() {
	d := p.d
	if !hasProgressDeadline(d) {
		return
	}
	cond := getCondition(d.Status, appsv1.DeploymentProgressing)
	if cond != nil && cond.Reason == TimedOutReason {
		return
	}
	paused := cond != nil && cond.Reason == PausedDeployReason
	switch {
	case d.Spec.Paused && !paused:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, PausedDeployReason, "Deployment is paused", p.now))
	case !d.Spec.Paused && paused:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, ResumedDeployReason, "Deployment is resumed", p.now))
	}
}

// isScalingEvent reports whether spec.replicas changed since the active
// ReplicaSets were sized (their desired-replicas annotation says).
func (p *plan) isScalingEvent() (bool, error) {
	newRS, old, err := p.getAllReplicaSetsAndSyncRevision(false)
	if err != nil {
		return false, err
	}
	for _, rs := range activeReplicaSets(append(old, newRS)) {
		if desired, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && desired != *p.d.Spec.Replicas {
			return true, nil
		}
	}
	return false, nil
}

// scaleProportionally is upstream's scale: one active set takes the whole
// size; otherwise extra (or missing) replicas are spread over the active
// sets in proportion to their size.
func (p *plan) scaleProportionally(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) {
	d := p.d
	if rs := findActiveOrLatest(newRS, old); rs != nil {
		p.scaleIfChanged(rs, *d.Spec.Replicas)
		return
	}
	if isSaturated(d, newRS) {
		for _, rs := range activeReplicaSets(old) {
			p.scaleIfChanged(rs, 0)
		}
		return
	}
	if !isRollingUpdate(d) {
		return
	}
	all := activeReplicaSets(append(append([]*appsv1.ReplicaSet(nil), old...), newRS))
	allowed := int32(0)
	if *d.Spec.Replicas > 0 {
		allowed = *d.Spec.Replicas + MaxSurge(d)
	}
	toAdd := allowed - specReplicas(all)
	switch {
	case toAdd > 0:
		sortBySize(all, true)
	case toAdd < 0:
		sortBySize(all, false)
	}
	added := int32(0)
	sizes := make([]int32, len(all))
	for i, rs := range all {
		sizes[i] = *rs.Spec.Replicas
		if toAdd != 0 {
			prop := proportion(rs, d, toAdd, added)
			sizes[i] += prop
			added += prop
		}
	}
	for i, rs := range all {
		if i == 0 && toAdd != 0 {
			sizes[i] = max(sizes[i]+toAdd-added, 0)
		}
		p.scale(rs, sizes[i])
	}
}

func findActiveOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(old) == 0 {
		return nil
	}
	active := activeReplicaSets(append(append([]*appsv1.ReplicaSet(nil), old...), newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return old[len(old)-1] // the newest old set
	case 1:
		return active[0]
	}
	return nil
}

// proportion is upstream's GetProportion: rs's share of toAdd, bounded by
// what is left to add (or remove).
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || *rs.Spec.Replicas == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	fraction := fractionOf(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(fraction, allowed)
	}
	return max(fraction, allowed)
}

func fractionOf(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if *d.Spec.Replicas == 0 {
		return -*rs.Spec.Replicas
	}
	maxReplicas := *d.Spec.Replicas + MaxSurge(d)
	before, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok || before == 0 {
		before = d.Status.Replicas
		if before == 0 {
			return 0
		}
	}
	size := float64(*rs.Spec.Replicas*maxReplicas) / float64(before)
	return roundToInt32(size) - *rs.Spec.Replicas
}

func roundToInt32(a float64) int32 {
	if a < 0 {
		return int32(a - 0.5)
	}
	return int32(a + 0.5)
}

// rolloutRolling is one step of a rolling update.
func (p *plan) rolloutRolling() error {
	newRS, old, err := p.getAllReplicaSetsAndSyncRevision(true)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	if p.reconcileNewReplicaSet(all, newRS) {
		return p.syncRolloutStatus(all, newRS)
	}
	if p.reconcileOldReplicaSets(all, activeReplicaSets(old), newRS) {
		return p.syncRolloutStatus(all, newRS)
	}
	if deploymentComplete(p.d, &p.d.Status) {
		p.cleanup(old)
	}
	return p.syncRolloutStatus(all, newRS)
}

func (p *plan) reconcileNewReplicaSet(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) bool {
	want := *p.d.Spec.Replicas
	switch {
	case *newRS.Spec.Replicas == want:
		return false
	case *newRS.Spec.Replicas > want:
		return p.scaleIfChanged(newRS, want)
	}
	return p.scaleIfChanged(newRS, newRSNewReplicas(p.d, all, newRS))
}

func (p *plan) reconcileOldReplicaSets(all, old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) bool {
	if specReplicas(old) == 0 {
		return false
	}
	minAvailable := *p.d.Spec.Replicas - MaxUnavailable(p.d)
	newUnavailable := *newRS.Spec.Replicas - newRS.Status.AvailableReplicas
	maxScaledDown := specReplicas(all) - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false
	}
	cleaned := p.cleanupUnhealthyReplicas(old, maxScaledDown)
	scaled := p.scaleDownOldForRollingUpdate(append(append([]*appsv1.ReplicaSet(nil), old...), newRS), old)
	return cleaned+scaled > 0
}

// cleanupUnhealthyReplicas scales old sets down by their unavailable pods
// first: they cost no availability.
func (p *plan) cleanupUnhealthyReplicas(old []*appsv1.ReplicaSet, maxCleanup int32) int32 {
	sortByCreation(old)
	total := int32(0)
	for _, rs := range old {
		if total >= maxCleanup {
			break
		}
		if *rs.Spec.Replicas == 0 || *rs.Spec.Replicas == rs.Status.AvailableReplicas {
			continue
		}
		down := min(maxCleanup-total, *rs.Spec.Replicas-rs.Status.AvailableReplicas)
		p.scaleIfChanged(rs, *rs.Spec.Replicas-down)
		total += down
	}
	return total
}

func (p *plan) scaleDownOldForRollingUpdate(all, old []*appsv1.ReplicaSet) int32 {
	minAvailable := *p.d.Spec.Replicas - MaxUnavailable(p.d)
	available := sumStatus(all, func(s appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas })
	if available <= minAvailable {
		return 0
	}
	sortByCreation(old)
	total, want := int32(0), available-minAvailable
	for _, rs := range old {
		if total >= want {
			break
		}
		if *rs.Spec.Replicas == 0 {
			continue
		}
		down := min(*rs.Spec.Replicas, want-total)
		p.scaleIfChanged(rs, *rs.Spec.Replicas-down)
		total += down
	}
	return total
}

// rolloutRecreate scales every old set to zero, waits for their pods to be
// gone, then creates and scales up the new set.
func (p *plan) rolloutRecreate() error {
	newRS, old, err := p.getAllReplicaSetsAndSyncRevision(false)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	scaledDown := false
	for _, rs := range activeReplicaSets(old) {
		if p.scaleIfChanged(rs, 0) {
			scaledDown = true
		}
	}
	if scaledDown || p.oldPodsRunning(newRS, old) {
		return p.syncRolloutStatus(all, newRS)
	}
	if newRS == nil {
		if newRS, old, err = p.getAllReplicaSetsAndSyncRevision(true); err != nil {
			return err
		}
		all = append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	}
	p.scaleIfChanged(newRS, *p.d.Spec.Replicas)
	if deploymentComplete(p.d, &p.d.Status) {
		p.cleanup(old)
	}
	return p.syncRolloutStatus(all, newRS)
}

func (p *plan) oldPodsRunning(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) bool {
	if sumStatus(old, func(s appsv1.ReplicaSetStatus) int32 { return s.Replicas }) > 0 {
		return true
	}
	for uid, pods := range p.podsByReplicaSet() {
		if newRS != nil && newRS.UID == uid {
			continue
		}
		for _, pod := range pods {
			if pod.Status.Phase != corev1.PodFailed && pod.Status.Phase != corev1.PodSucceeded {
				return true
			}
		}
	}
	return false
}

// cleanup deletes the oldest zero-size sets beyond revisionHistoryLimit.
func (p *plan) cleanup(old []*appsv1.ReplicaSet) {
	d := p.d
	if !hasRevisionHistoryLimit(d) {
		return
	}
	var cleanable []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs.DeletionTimestamp == nil && !p.deleted[rs.Name] {
			cleanable = append(cleanable, rs)
		}
	}
	diff := int32(len(cleanable)) - *d.Spec.RevisionHistoryLimit
	if diff <= 0 {
		return
	}
	sortByRevision(cleanable)
	for _, rs := range cleanable[:diff] {
		if rs.Status.Replicas != 0 || *rs.Spec.Replicas != 0 || rs.Generation > rs.Status.ObservedGeneration || p.created[rs.Name] {
			continue
		}
		if orig := p.origRS[rs.Name]; orig == nil || *orig.Spec.Replicas != 0 {
			continue // scaled down in this very sync: let the set settle first
		}
		p.deleted[rs.Name] = true
	}
}

// syncRolloutStatus computes the status and the Progressing condition.
func (p *plan) syncRolloutStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	d := p.d
	st := calculateStatus(all, newRS, d, p.now)
	if !hasProgressDeadline(d) {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := getCondition(d.Status, appsv1.DeploymentProgressing)
	complete := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == NewRSAvailableReason
	if hasProgressDeadline(d) && !complete {
		subject := fmt.Sprintf("Deployment %q", d.Name)
		if newRS != nil {
			subject = fmt.Sprintf("ReplicaSet %q", newRS.Name)
		}
		switch {
		case deploymentComplete(d, &st):
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, NewRSAvailableReason, subject+" has successfully progressed.", p.now))
		case deploymentProgressing(d, &st):
			c := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReplicaSetUpdatedReason, subject+" is progressing.", p.now)
			if cur != nil {
				if cur.Status == corev1.ConditionTrue {
					c.LastTransitionTime = cur.LastTransitionTime
				}
				removeCondition(&st, appsv1.DeploymentProgressing)
			}
			setCondition(&st, c)
		case deploymentTimedOut(d, &st, p.now):
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, TimedOutReason, subject+" has timed out progressing.", p.now))
		}
	}
	removeCondition(&st, appsv1.DeploymentReplicaFailure)
	if !reflect.DeepEqual(d.Status, st) {
		d.Status = st
	}
	return nil
}

// calculateStatus is the Deployment status over its ReplicaSets' status.
func calculateStatus(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment, now time.Time) appsv1.DeploymentStatus {
	available := sumStatus(all, func(s appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas })
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sumStatus(all, func(s appsv1.ReplicaSetStatus) int32 { return s.Replicas }),
		UpdatedReplicas:     sumStatus([]*appsv1.ReplicaSet{newRS}, func(s appsv1.ReplicaSetStatus) int32 { return s.Replicas }),
		ReadyReplicas:       sumStatus(all, func(s appsv1.ReplicaSetStatus) int32 { return s.ReadyReplicas }),
		AvailableReplicas:   available,
		UnavailableReplicas: max(specReplicas(all)-available, 0),
		TerminatingReplicas: terminatingReplicas(all),
		CollisionCount:      d.Status.CollisionCount,
	}
	st.Conditions = append(st.Conditions, d.Status.Conditions...)
	if available >= *d.Spec.Replicas-MaxUnavailable(d) {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, MinimumReplicasAvailable, "Deployment has minimum availability.", now))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, MinimumReplicasUnavailable, "Deployment does not have minimum availability.", now))
	}
	return st
}

func deploymentComplete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	want := *d.Spec.Replicas
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want && st.ObservedGeneration >= d.Generation
}

func deploymentProgressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas ||
		st.AvailableReplicas > old.AvailableReplicas
}

func deploymentTimedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := getCondition(*st, appsv1.DeploymentProgressing)
	switch {
	case c == nil || c.Reason == NewRSAvailableReason:
		return false
	case c.Reason == TimedOutReason:
		return true
	}
	return c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Before(now)
}
