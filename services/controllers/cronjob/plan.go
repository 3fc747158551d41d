package cronjob

import (
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// maxMissed is how many missed starts upstream tolerates before it warns
// (and still schedules only the latest).
const maxMissed = 100

// decision is what one reconcile of a CronJob decides.
type decision struct {
	status  batchv1.CronJobStatus
	create  *batchv1.Job
	delete  []*batchv1.Job // replaced active Jobs, and finished Jobs beyond the history limits
	missed  int            // starts missed since the last one (more than maxMissed: at least that)
	problem string         // why nothing was scheduled, to log (bad zone or schedule)
}

// decide is the controller's pure core: from a CronJob, the Jobs it
// controls and the time, which Job to start, which to delete, and the status.
func decide(cj *batchv1.CronJob, jobs []*batchv1.Job, now time.Time) decision {
	d := decision{status: *cj.Status.DeepCopy()}
	d.status.Active = activeRefs(cj.Status.Active, jobs)
	d.status.LastSuccessfulTime = lastSuccess(cj.Status.LastSuccessfulTime, jobs)
	if cj.DeletionTimestamp != nil {
		return d
	}
	d.delete = historyToDelete(cj, jobs)
	if ptr.Deref(cj.Spec.Suspend, false) {
		return d
	}
	loc, sched, err := scheduleOf(cj)
	if err != nil {
		d.problem = err.Error()
		return d
	}
	scheduled, missed := mostRecent(sched, earliest(cj, now, true), now)
	d.missed = missed
	if scheduled == nil {
		return d
	}
	if sds := cj.Spec.StartingDeadlineSeconds; sds != nil && scheduled.Add(time.Duration(*sds)*time.Second).Before(now) {
		return d // missed its starting window
	}
	name := jobName(cj, *scheduled)
	at := metav1.NewTime(*scheduled)
	for _, j := range jobs {
		if j.Name == name {
			// Already started (perhaps without its status being written).
			d.status.LastScheduleTime = &at
			return d
		}
	}
	if cj.Status.LastScheduleTime.Equal(&at) {
		return d
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(d.status.Active) > 0 {
			return d
		}
	case batchv1.ReplaceConcurrent:
		for _, j := range jobs {
			if !finished(j) && j.DeletionTimestamp == nil {
				d.delete = append(d.delete, j)
			}
		}
		d.status.Active = nil
	}
	d.create = jobFor(cj, *scheduled, loc)
	d.status.Active = append(d.status.Active, corev1.ObjectReference{
		Kind: "Job", APIVersion: "batch/v1", Namespace: cj.Namespace, Name: name,
	})
	d.status.LastScheduleTime = &at
	return d
}

// scheduleOf parses the CronJob's zone and schedule.
func scheduleOf(cj *batchv1.CronJob) (*time.Location, Schedule, error) {
	loc := time.UTC
	if tz := ptr.Deref(cj.Spec.TimeZone, ""); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid timeZone %q: %w", tz, err)
		}
		loc = l
	}
	sched, err := Parse(cj.Spec.Schedule, loc)
	if err != nil {
		return nil, nil, fmt.Errorf("unparseable schedule %q: %w", cj.Spec.Schedule, err)
	}
	return loc, sched, nil
}

// earliest is the time after which starts count as missed: the last start
// (or the CronJob's creation), no earlier than the starting deadline.
func earliest(cj *batchv1.CronJob, now time.Time, withDeadline bool) time.Time {
	t := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		t = cj.Status.LastScheduleTime.Time
	}
	if sds := cj.Spec.StartingDeadlineSeconds; withDeadline && sds != nil {
		if dl := now.Add(-time.Duration(*sds) * time.Second); dl.After(t) {
			t = dl
		}
	}
	return t
}

// mostRecent is the latest activation in (after, now] and how many there
// were (counted exactly up to maxMissed, estimated beyond).
func mostRecent(sched Schedule, after, now time.Time) (*time.Time, int) {
	t := sched.Next(after)
	if t.IsZero() || t.After(now) {
		return nil, 0
	}
	first, n := t, 1
	for ; n <= maxMissed; n++ {
		next := sched.Next(t)
		if next.IsZero() || next.After(now) {
			return &t, n
		}
		t = next
	}
	// Too many to walk: look back from now by a growing window.
	step := max(t.Sub(first)/time.Duration(n-1), time.Second)
	for back := step; ; back *= 2 {
		from := now.Add(-back)
		if from.Before(t) {
			from = t
		}
		x := sched.Next(from)
		if x.IsZero() || x.After(now) {
			continue
		}
		for {
			next := sched.Next(x)
			if next.IsZero() || next.After(now) {
				return &x, n + int(x.Sub(t)/step)
			}
			x = next
		}
	}
}

// NextStart is cj's first start not yet made (past when one is due at
// now); false when none will come by time alone (suspended, no valid
// schedule).
func NextStart(cj *batchv1.CronJob, now time.Time) (time.Time, bool) {
	if ptr.Deref(cj.Spec.Suspend, false) {
		return time.Time{}, false
	}
	_, sched, err := scheduleOf(cj)
	if err != nil {
		return time.Time{}, false
	}
	next := sched.Next(earliest(cj, now, false))
	return next, !next.IsZero()
}

// jobName is upstream's deterministic name: the scheduled time in minutes.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// jobFor is the Job of one scheduled start, from the CronJob's template.
func jobFor(cj *batchv1.CronJob, scheduled time.Time, loc *time.Location) *batchv1.Job {
	tmpl := cj.Spec.JobTemplate.DeepCopy()
	ann := map[string]string{}
	for k, v := range tmpl.Annotations {
		ann[k] = v
	}
	ann[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	yes := true
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: jobName(cj, scheduled), Namespace: cj.Namespace,
			Labels: tmpl.Labels, Annotations: ann,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID,
				Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Spec: tmpl.Spec,
	}
}

// activeRefs keeps the references of the Jobs still running, in their
// order, and adds running Jobs missing from it.
func activeRefs(old []corev1.ObjectReference, jobs []*batchv1.Job) []corev1.ObjectReference {
	running := map[string]*batchv1.Job{}
	for _, j := range jobs {
		if !finished(j) {
			running[j.Name] = j
		}
	}
	var out []corev1.ObjectReference
	seen := map[string]bool{}
	for _, r := range old {
		if j, ok := running[r.Name]; ok && (r.UID == "" || r.UID == j.UID) && !seen[r.Name] {
			if r.UID == "" {
				r.UID = j.UID
			}
			out = append(out, r)
			seen[r.Name] = true
		}
	}
	for _, j := range jobs { // jobs are sorted by name
		if running[j.Name] != nil && !seen[j.Name] {
			out = append(out, corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace, Name: j.Name, UID: j.UID})
		}
	}
	return out
}

func lastSuccess(old *metav1.Time, jobs []*batchv1.Job) *metav1.Time {
	out := old
	for _, j := range jobs {
		if t := j.Status.CompletionTime; succeeded(j) && t != nil && (out == nil || t.After(out.Time)) {
			out = t
		}
	}
	return out
}

// historyToDelete returns the oldest finished Jobs beyond the limits.
func historyToDelete(cj *batchv1.CronJob, jobs []*batchv1.Job) []*batchv1.Job {
	var ok, failed []*batchv1.Job
	for _, j := range jobs {
		switch {
		case j.DeletionTimestamp != nil:
		case succeeded(j):
			ok = append(ok, j)
		case failedJob(j):
			failed = append(failed, j)
		}
	}
	var out []*batchv1.Job
	for _, h := range []struct {
		limit *int32
		jobs  []*batchv1.Job
	}{{cj.Spec.SuccessfulJobsHistoryLimit, ok}, {cj.Spec.FailedJobsHistoryLimit, failed}} {
		if h.limit == nil || len(h.jobs) <= int(*h.limit) {
			continue
		}
		sortByStartTime(h.jobs)
		out = append(out, h.jobs[:len(h.jobs)-int(*h.limit)]...)
	}
	return out
}

// sortByStartTime orders as upstream's byJobStartTime: earlier first,
// unstarted last, ties by name.
func sortByStartTime(jobs []*batchv1.Job) {
	sort.SliceStable(jobs, func(a, b int) bool {
		sa, sb := jobs[a].Status.StartTime, jobs[b].Status.StartTime
		switch {
		case sa == nil && sb != nil:
			return false
		case sa != nil && sb == nil:
			return true
		case sa == nil || sa.Equal(sb):
			return jobs[a].Name < jobs[b].Name
		}
		return sa.Before(sb)
	})
}

func finished(j *batchv1.Job) bool { return succeeded(j) || failedJob(j) }

func succeeded(j *batchv1.Job) bool { return hasCondition(j, batchv1.JobComplete) }

func failedJob(j *batchv1.Job) bool { return hasCondition(j, batchv1.JobFailed) }

func hasCondition(j *batchv1.Job, typ batchv1.JobConditionType) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
