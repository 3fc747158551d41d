package job

import (
	"sort"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/services/reconcile"
)

// The reasons and messages of the conditions, as upstream words them.
const (
	reasonCompletionsReached = batchv1.JobReasonCompletionsReached
	msgCompletionsReached    = "Reached expected number of succeeded pods"
	reasonBackoffLimit       = batchv1.JobReasonBackoffLimitExceeded
	msgBackoffLimit          = "Job has reached the specified backoff limit"
	reasonDeadline           = batchv1.JobReasonDeadlineExceeded
	msgDeadline              = "Job was active longer than specified deadline"
	reasonSuspended          = "JobSuspended"
	msgSuspended             = "Job suspended"
	reasonResumed            = "JobResumed"
	msgResumed               = "Job resumed"
)

// decision is what one reconcile of a Job decides.
type decision struct {
	status    batchv1.JobStatus
	create    []*corev1.Pod
	delete    []*corev1.Pod
	deleteJob bool // TTL after finished has passed: delete the Job and its pods
}

// tally is what the Job's pods say.
type tally struct {
	active, ready, terminating, succeeded, failed, restarts int32
	activePods                                              []*corev1.Pod
	succeededIndexes                                        map[int]bool // Indexed only
}

// decide is the controller's pure core: from a Job, the pods it controls
// and the time, what to create, delete and write as status. seed makes the
// generated pod names deterministic.
func decide(j *batchv1.Job, pods []*corev1.Pod, now time.Time, seed string) decision {
	d := decideRaw(j, pods, now, seed)
	if !d.deleteJob {
		// As upstream, status.active counts the pods just created and not
		// those just deleted (every pod deleted here was active).
		d.status.Active += int32(len(d.create) - len(d.delete))
	}
	return d
}

func decideRaw(j *batchv1.Job, pods []*corev1.Pod, now time.Time, seed string) decision {
	d := decision{status: *j.Status.DeepCopy()}
	st := &d.status
	nowT := metav1.NewTime(now.UTC().Truncate(time.Second))
	if _, done := finished(&j.Status); done {
		if due, ok := nextDeadline(j); ok && !due.After(now) {
			d.deleteJob = true
			for _, p := range pods {
				if p.DeletionTimestamp == nil {
					d.delete = append(d.delete, p)
				}
			}
		}
		return d
	}

	t := count(j, pods)
	st.Active, st.Ready, st.Terminating = t.active, ptr.To(t.ready), ptr.To(t.terminating)
	st.Succeeded, st.Failed = max(st.Succeeded, t.succeeded), max(st.Failed, t.failed)
	if indexed(j) {
		for _, i := range parseIndexes(st.CompletedIndexes) {
			t.succeededIndexes[i] = true
		}
		st.CompletedIndexes = formatIndexes(t.succeededIndexes, completions(j))
		st.Succeeded = max(st.Succeeded, int32(len(t.succeededIndexes)))
	}
	drained := t.active == 0 && t.terminating == 0

	if ptr.Deref(j.Spec.Suspend, false) {
		d.delete = t.activePods
		if setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, reasonSuspended, msgSuspended, nowT) {
			st.StartTime = nil // the active deadline counts from the resume
		}
		return d
	}
	if c := condition(st, batchv1.JobSuspended); c != nil && c.Status == corev1.ConditionTrue {
		setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, reasonResumed, msgResumed, nowT)
		st.StartTime = &nowT
	}
	if st.StartTime == nil {
		st.StartTime = &nowT
	}

	// A failure or success already decided waits for the pods to stop.
	if c := condition(st, batchv1.JobFailureTarget); c != nil && c.Status == corev1.ConditionTrue {
		d.delete = t.activePods
		if drained {
			setCondition(st, batchv1.JobFailed, corev1.ConditionTrue, c.Reason, c.Message, nowT)
		}
		return d
	}
	if c := condition(st, batchv1.JobSuccessCriteriaMet); c != nil && c.Status == corev1.ConditionTrue {
		d.delete = t.activePods
		if drained {
			complete(st, c.Reason, c.Message, nowT)
		}
		return d
	}

	if reason, msg := failure(j, st, t, now); reason != "" {
		setCondition(st, batchv1.JobFailureTarget, corev1.ConditionTrue, reason, msg, nowT)
		d.delete = t.activePods
		if drained {
			setCondition(st, batchv1.JobFailed, corev1.ConditionTrue, reason, msg, nowT)
		}
		return d
	}
	if succeeded(j, st, t) {
		setCondition(st, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, reasonCompletionsReached, msgCompletionsReached, nowT)
		d.delete = t.activePods
		if drained {
			complete(st, reasonCompletionsReached, msgCompletionsReached, nowT)
		}
		return d
	}
	if indexed(j) {
		d.create, d.delete = manageIndexed(j, st, t, seed)
	} else {
		d.create, d.delete = manageNonIndexed(j, st, t, seed)
	}
	return d
}

func complete(st *batchv1.JobStatus, reason, msg string, now metav1.Time) {
	setCondition(st, batchv1.JobComplete, corev1.ConditionTrue, reason, msg, now)
	st.CompletionTime = &now
}

// failure says why the Job has failed, if it has: more pod failures than
// its backoff limit (container restarts count for OnFailure pods), or its
// active deadline passed.
func failure(j *batchv1.Job, st *batchv1.JobStatus, t tally, now time.Time) (string, string) {
	failed := st.Failed
	if j.Spec.Template.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		failed += t.restarts
	}
	if limit := j.Spec.BackoffLimit; limit != nil && failed > *limit {
		return reasonBackoffLimit, msgBackoffLimit
	}
	if ads := j.Spec.ActiveDeadlineSeconds; ads != nil && st.StartTime != nil &&
		!st.StartTime.Add(time.Duration(*ads)*time.Second).After(now) {
		return reasonDeadline, msgDeadline
	}
	return "", ""
}

// succeeded reports whether the Job has met its completions: enough
// successes, or (without completions) one success and no pod still active.
func succeeded(j *batchv1.Job, st *batchv1.JobStatus, t tally) bool {
	if j.Spec.Completions == nil {
		return st.Succeeded > 0 && t.active == 0
	}
	if indexed(j) {
		return int32(len(t.succeededIndexes)) >= *j.Spec.Completions
	}
	return st.Succeeded >= *j.Spec.Completions
}

// manageNonIndexed keeps min(parallelism, remaining completions) pods
// active; once a Job without completions has a success, it starts no more.
func manageNonIndexed(j *batchv1.Job, st *batchv1.JobStatus, t tally, seed string) (create, del []*corev1.Pod) {
	want := ptr.Deref(j.Spec.Parallelism, 1)
	if j.Spec.Completions != nil {
		want = min(want, max(*j.Spec.Completions-st.Succeeded, 0))
	} else if st.Succeeded > 0 {
		want = min(want, t.active)
	}
	if t.active > want {
		return nil, deletionOrder(t.activePods)[:t.active-want]
	}
	for i := t.active; i < want; i++ {
		create = append(create, newPod(j, nil, seed+"/"+strconv.Itoa(int(i))))
	}
	return create, nil
}

// manageIndexed keeps one active pod per index not yet succeeded, at most
// parallelism of them, lowest indexes first; it deletes duplicates and pods
// of indexes that are done or out of range.
func manageIndexed(j *batchv1.Job, st *batchv1.JobStatus, t tally, seed string) (create, del []*corev1.Pod) {
	n := completions(j)
	del, have := dedupeKeepBest(t.activePods, t.succeededIndexes, n)
	want := min(ptr.Deref(j.Spec.Parallelism, 1), int32(n-len(t.succeededIndexes)))
	active := int32(len(have))
	for i := 0; i < n && active < want; i++ {
		if t.succeededIndexes[i] || have[i] {
			continue
		}
		create = append(create, newPod(j, &i, seed+"/"+strconv.Itoa(i)))
		active++
	}
	return create, del
}

// dedupeKeepBest keeps, for each valid pending index, its most advanced
// active pod, and returns the others to delete.
func dedupeKeepBest(active []*corev1.Pod, done map[int]bool, n int) ([]*corev1.Pod, map[int]bool) {
	ordered := deletionOrder(active) // least advanced first
	best := map[int]*corev1.Pod{}
	for _, p := range ordered {
		if i, ok := podIndex(p); ok && i < n && !done[i] {
			best[i] = p // later = more advanced
		}
	}
	var del []*corev1.Pod
	have := map[int]bool{}
	for _, p := range ordered {
		i, ok := podIndex(p)
		if ok && best[i] == p {
			have[i] = true
			continue
		}
		del = append(del, p)
	}
	return del, have
}

// count tallies the pods of a Job.
func count(j *batchv1.Job, pods []*corev1.Pod) tally {
	t := tally{succeededIndexes: map[int]bool{}}
	n := completions(j)
	for _, p := range pods {
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			t.succeeded++
			if i, ok := podIndex(p); ok && indexed(j) && i < n {
				t.succeededIndexes[i] = true
			}
		case p.Status.Phase == corev1.PodFailed:
			t.failed++
		case p.DeletionTimestamp != nil:
			t.terminating++
		default:
			t.active++
			t.activePods = append(t.activePods, p)
			if ready(p) {
				t.ready++
			}
			for _, cs := range p.Status.ContainerStatuses {
				t.restarts += cs.RestartCount
			}
		}
	}
	return t
}

// deletionOrder sorts pods from the one to delete first: unscheduled before
// scheduled, pending before running, not ready before ready, newer before
// older, then by name.
func deletionOrder(pods []*corev1.Pod) []*corev1.Pod {
	out := append([]*corev1.Pod(nil), pods...)
	rank := func(p *corev1.Pod) [3]int {
		r := [3]int{1, 1, 1}
		if p.Spec.NodeName == "" {
			r[0] = 0
		}
		if p.Status.Phase != corev1.PodRunning {
			r[1] = 0
		}
		if !ready(p) {
			r[2] = 0
		}
		return r
	}
	sort.SliceStable(out, func(a, b int) bool {
		ra, rb := rank(out[a]), rank(out[b])
		if ra != rb {
			for k := range ra {
				if ra[k] != rb[k] {
					return ra[k] < rb[k]
				}
			}
		}
		ta, tb := out[a].CreationTimestamp, out[b].CreationTimestamp
		if !ta.Equal(&tb) {
			return tb.Before(&ta)
		}
		return out[a].Name > out[b].Name
	})
	return out
}

// newPod is a pod from the Job's template; index is set for Indexed Jobs.
func newPod(j *batchv1.Job, index *int, seed string) *corev1.Pod {
	tmpl := j.Spec.Template.DeepCopy()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       j.Namespace,
			Labels:          tmpl.Labels,
			Annotations:     tmpl.Annotations,
			Finalizers:      tmpl.Finalizers,
			OwnerReferences: []metav1.OwnerReference{ownerRef(j)},
		},
		Spec: tmpl.Spec,
	}
	base := j.Name + "-"
	if index != nil {
		idx := strconv.Itoa(*index)
		base += idx + "-"
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Labels[batchv1.JobCompletionIndexAnnotation] = idx
		p.Annotations[batchv1.JobCompletionIndexAnnotation] = idx
		if p.Spec.Hostname == "" {
			p.Spec.Hostname = truncate(j.Name+"-"+idx, 63)
		}
		addIndexEnv(p.Spec.InitContainers)
		addIndexEnv(p.Spec.Containers)
	}
	p.Name = truncate(base, 58) + reconcile.NameSuffix(seed)
	return p
}

// addIndexEnv gives every container JOB_COMPLETION_INDEX from the pod's
// completion-index annotation, as upstream does.
func addIndexEnv(cs []corev1.Container) {
	for i := range cs {
		has := false
		for _, e := range cs[i].Env {
			has = has || e.Name == "JOB_COMPLETION_INDEX"
		}
		if has {
			continue
		}
		cs[i].Env = append(cs[i].Env, corev1.EnvVar{
			Name: "JOB_COMPLETION_INDEX",
			ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
				FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']",
			}},
		})
	}
}

func podIndex(p *corev1.Pod) (int, bool) {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		v, ok = p.Labels[batchv1.JobCompletionIndexAnnotation]
	}
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(v)
	return i, err == nil && i >= 0
}

func indexed(j *batchv1.Job) bool {
	return ptr.Deref(j.Spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
}

func completions(j *batchv1.Job) int { return int(ptr.Deref(j.Spec.Completions, 1)) }

func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// finished reports whether the Job has its terminal condition, and which.
func finished(st *batchv1.JobStatus) (batchv1.JobConditionType, bool) {
	for _, c := range st.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, true
		}
	}
	return "", false
}

// finishTime is when the Job finished: its completion time, or when it
// failed.
func finishTime(st *batchv1.JobStatus) *time.Time {
	typ, ok := finished(st)
	if !ok {
		return nil
	}
	if typ == batchv1.JobComplete && st.CompletionTime != nil {
		return &st.CompletionTime.Time
	}
	if c := condition(st, typ); c != nil {
		return &c.LastTransitionTime.Time
	}
	return nil
}

func condition(st *batchv1.JobStatus, typ batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == typ {
			return &st.Conditions[i]
		}
	}
	return nil
}

// setCondition adds or changes a condition; it reports whether it did.
func setCondition(st *batchv1.JobStatus, typ batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string, now metav1.Time) bool {
	if c := condition(st, typ); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == msg {
			return false
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, msg, now
		return true
	}
	st.Conditions = append(st.Conditions, batchv1.JobCondition{
		Type: typ, Status: status, Reason: reason, Message: msg, LastProbeTime: now, LastTransitionTime: now,
	})
	return true
}
