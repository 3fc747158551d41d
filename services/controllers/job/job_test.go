package job

import (
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// world is a projection state the tests drive by hand: reconcile's appends
// are applied to it with their expectations checked, as the log would.
type world struct {
	t  *testing.T
	st *projections.State
}

func newWorld(t *testing.T) *world { return &world{t: t, st: projections.NewState()} }

func (w *world) Get(ref events.Ref) (*projections.Object, bool) { return w.st.Get(ref) }
func (w *world) List(g, r, ns string) ([]*projections.Object, uint64) {
	return w.st.List(g, r, ns), w.st.Seq()
}
func (w *world) Seq() uint64 { return w.st.Seq() }

func (w *world) apply(as ...reconcile.Append) {
	w.t.Helper()
	for _, a := range as {
		var have uint64
		if o, ok := w.st.Get(a.Event.Ref); ok {
			have = o.Seq
		}
		if have != a.Expect {
			w.t.Fatalf("%s %s expects %d, object is at %d", a.Event.Type, a.Event.Ref, a.Expect, have)
		}
		ev := a.Event
		ev.Seq = w.st.Seq() + 1
		if _, err := w.st.Apply(ev); err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) create(k kinds.Kind, obj runtime.Object, seed string) {
	w.t.Helper()
	a, err := reconcile.Create(k, obj, t0, seed)
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(a)
}

// reconcile runs the controller once at now and applies what it decides.
func (w *world) reconcile(key events.Ref, now time.Time) []reconcile.Append {
	w.t.Helper()
	as, err := Reconcile(w, key, now)
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(as...)
	return as
}

func (w *world) job(name string) *batchv1.Job {
	w.t.Helper()
	o, ok := w.st.Get(jobRef(name))
	if !ok {
		return nil
	}
	var j batchv1.Job
	if err := reconcile.DecodeInto(o, &j); err != nil {
		w.t.Fatal(err)
	}
	return &j
}

func (w *world) pods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, o := range w.st.List("", "pods", "default") {
		var p corev1.Pod
		if err := reconcile.DecodeInto(o, &p); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, &p)
	}
	return out
}

// setPhase is the fake kubelet: it moves a pod to a phase (Running is also Ready).
func (w *world) setPhase(name string, phase corev1.PodPhase) {
	w.t.Helper()
	ref := events.Ref{Resource: "pods", Namespace: "default", Name: name}
	o, _ := w.st.Get(ref)
	var p corev1.Pod
	if err := reconcile.DecodeInto(o, &p); err != nil {
		w.t.Fatal(err)
	}
	p.Status.Phase = phase
	readyStatus := corev1.ConditionFalse
	if phase == corev1.PodRunning {
		readyStatus = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: readyStatus}}
	a, err := reconcile.Update(podKind, &p, o, events.ChangeStatus)
	if err != nil {
		w.t.Fatal(err)
	}
	w.apply(a)
}

func jobRef(name string) events.Ref {
	return events.Ref{Group: "batch", Resource: "jobs", Namespace: "default", Name: name}
}

func newJob(name string, tune func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
				},
			},
		},
	}
	if tune != nil {
		tune(j)
	}
	return j
}

func cond(j *batchv1.Job) string {
	var parts []string
	for _, c := range j.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			parts = append(parts, string(c.Type)+"/"+c.Reason)
		}
	}
	return strings.Join(parts, ",")
}

func phases(ps []*corev1.Pod) map[corev1.PodPhase]int {
	out := map[corev1.PodPhase]int{}
	for _, p := range ps {
		if p.DeletionTimestamp == nil {
			out[p.Status.Phase]++
		}
	}
	return out
}

// step is one move of a scenario: the kubelet acts, then the controller
// reconciles at t0+at, and the test checks the result.
type step struct {
	at      time.Duration
	kubelet func(w *world)
	want    string // conditions that are True, "Type/Reason,..."
	pods    int    // live (not deleting) pods not yet terminal
	active  int32
}

func podsIn(w *world, phase corev1.PodPhase) []string {
	var out []string
	for _, p := range w.pods() {
		if p.Status.Phase == phase && p.DeletionTimestamp == nil {
			out = append(out, p.Name)
		}
	}
	return out
}

func all(phase corev1.PodPhase, from corev1.PodPhase) func(w *world) {
	return func(w *world) {
		for _, n := range podsIn(w, from) {
			w.setPhase(n, phase)
		}
	}
}

func first(phase corev1.PodPhase, from corev1.PodPhase) func(w *world) {
	return func(w *world) {
		if ns := podsIn(w, from); len(ns) > 0 {
			w.setPhase(ns[0], phase)
		}
	}
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name  string
		tune  func(*batchv1.Job)
		steps []step
	}{
		{"one pod to completion", nil, []step{
			{pods: 1, active: 1},
			{kubelet: all(corev1.PodRunning, corev1.PodPending), pods: 1, active: 1},
			{kubelet: all(corev1.PodSucceeded, corev1.PodRunning), want: "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached"},
		}},
		{"completions 3 parallelism 2", func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](2) }, []step{
			{pods: 2, active: 2},
			{kubelet: first(corev1.PodSucceeded, corev1.PodPending), pods: 2, active: 2},
			{kubelet: all(corev1.PodSucceeded, corev1.PodPending), want: "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached"},
		}},
		{"more success than needed deletes the rest", func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](2), ptr.To[int32](3) }, []step{
			{pods: 2, active: 2},
			{kubelet: all(corev1.PodSucceeded, corev1.PodPending), want: "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached"},
		}},
		{"work queue: one success, then the others finish", func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = nil, ptr.To[int32](2) }, []step{
			{pods: 2, active: 2},
			{kubelet: first(corev1.PodSucceeded, corev1.PodPending), pods: 1, active: 1},
			{kubelet: all(corev1.PodSucceeded, corev1.PodPending), want: "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached"},
		}},
		{"failures replaced until the backoff limit", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](1) }, []step{
			{pods: 1, active: 1},
			{kubelet: all(corev1.PodFailed, corev1.PodPending), pods: 1, active: 1},
			{kubelet: all(corev1.PodFailed, corev1.PodPending), want: "FailureTarget/BackoffLimitExceeded,Failed/BackoffLimitExceeded"},
		}},
		{"backoff limit with other pods running: they are deleted first", func(j *batchv1.Job) {
			j.Spec.BackoffLimit, j.Spec.Parallelism, j.Spec.Completions = ptr.To[int32](0), ptr.To[int32](2), ptr.To[int32](2)
		}, []step{
			{pods: 2, active: 2},
			{kubelet: first(corev1.PodFailed, corev1.PodPending), want: "FailureTarget/BackoffLimitExceeded"},
			{want: "FailureTarget/BackoffLimitExceeded,Failed/BackoffLimitExceeded"},
		}},
		{"active deadline", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](60) }, []step{
			{pods: 1, active: 1},
			{at: 59 * time.Second, pods: 1, active: 1},
			{at: 60 * time.Second, want: "FailureTarget/DeadlineExceeded"},
			{at: 61 * time.Second, want: "FailureTarget/DeadlineExceeded,Failed/DeadlineExceeded"},
		}},
		{"suspended creates nothing", func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }, []step{
			{want: "Suspended/JobSuspended"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.create(jobKind, newJob("j", tt.tune), "job-j")
			for i, s := range tt.steps {
				if s.kubelet != nil {
					s.kubelet(w)
				}
				w.reconcile(jobRef("j"), t0.Add(s.at))
				j := w.job("j")
				live := 0
				for _, p := range w.pods() {
					if p.DeletionTimestamp == nil && !terminal(p) {
						live++
					}
				}
				if got := cond(j); got != s.want || live != s.pods || j.Status.Active != s.active {
					t.Fatalf("step %d: conditions %q, live pods %d, active %d; want %q, %d, %d", i, got, live, j.Status.Active, s.want, s.pods, s.active)
				}
			}
		})
	}
}

func TestPodShape(t *testing.T) {
	w := newWorld(t)
	w.create(jobKind, newJob("shape", nil), "job-shape")
	w.reconcile(jobRef("shape"), t0)
	j, pods := w.job("shape"), w.pods()
	if len(pods) != 1 {
		t.Fatalf("%d pods", len(pods))
	}
	p := pods[0]
	if !strings.HasPrefix(p.Name, "shape-") || len(p.Name) != len("shape-")+5 {
		t.Errorf("name %q, want shape-<5 chars>", p.Name)
	}
	for k, v := range map[string]string{
		batchv1.ControllerUidLabel: string(j.UID), "controller-uid": string(j.UID),
		batchv1.JobNameLabel: "shape", "job-name": "shape", "app": "shape",
	} {
		if p.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, p.Labels[k], v)
		}
	}
	c := metav1.GetControllerOf(p)
	if c == nil || c.UID != j.UID || c.Kind != "Job" || !ptr.Deref(c.BlockOwnerDeletion, false) {
		t.Errorf("controller ref %+v", c)
	}
	if j.Status.StartTime == nil || !j.Status.StartTime.Time.Equal(t0) {
		t.Errorf("startTime %v", j.Status.StartTime)
	}
	// The same view decides the same pod, byte for byte.
	a1, _ := Reconcile(w, jobRef("shape"), t0)
	a2, _ := Reconcile(w, jobRef("shape"), t0)
	if fmt.Sprint(a1) != fmt.Sprint(a2) {
		t.Error("Reconcile is not deterministic")
	}
}

func TestIndexed(t *testing.T) {
	w := newWorld(t)
	w.create(jobKind, newJob("ix", func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](4), ptr.To[int32](2)
	}), "job-ix")
	w.reconcile(jobRef("ix"), t0)
	idx := func() map[string]*corev1.Pod {
		out := map[string]*corev1.Pod{}
		for _, p := range w.pods() {
			if p.DeletionTimestamp == nil && !terminal(p) {
				out[p.Annotations[batchv1.JobCompletionIndexAnnotation]] = p
			}
		}
		return out
	}
	got := idx()
	if len(got) != 2 || got["0"] == nil || got["1"] == nil {
		t.Fatalf("indexes %v, want 0 and 1", got)
	}
	p := got["1"]
	if p.Labels[batchv1.JobCompletionIndexAnnotation] != "1" || p.Spec.Hostname != "ix-1" || !strings.HasPrefix(p.Name, "ix-1-") {
		t.Errorf("pod %s: label %q hostname %q", p.Name, p.Labels[batchv1.JobCompletionIndexAnnotation], p.Spec.Hostname)
	}
	env := p.Spec.Containers[0].Env
	if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("env %+v", env)
	}
	w.setPhase(got["1"].Name, corev1.PodSucceeded)
	w.reconcile(jobRef("ix"), t0)
	if j := w.job("ix"); j.Status.CompletedIndexes != "1" || j.Status.Succeeded != 1 {
		t.Errorf("completedIndexes %q succeeded %d", j.Status.CompletedIndexes, j.Status.Succeeded)
	}
	if got := idx(); len(got) != 2 || got["0"] == nil || got["2"] == nil {
		t.Fatalf("indexes %v, want 0 and 2", got)
	}
	for range 3 {
		for _, p := range idx() {
			w.setPhase(p.Name, corev1.PodSucceeded)
		}
		w.reconcile(jobRef("ix"), t0)
	}
	if j := w.job("ix"); j.Status.CompletedIndexes != "0-3" || cond(j) != "SuccessCriteriaMet/CompletionsReached,Complete/CompletionsReached" {
		t.Errorf("completedIndexes %q conditions %q", j.Status.CompletedIndexes, cond(j))
	}
}

func TestTTLAfterFinished(t *testing.T) {
	w := newWorld(t)
	w.create(jobKind, newJob("ttl", func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](100) }), "job-ttl")
	w.reconcile(jobRef("ttl"), t0)
	all(corev1.PodSucceeded, corev1.PodPending)(w)
	w.reconcile(jobRef("ttl"), t0.Add(10*time.Second)) // completes at t0+10s
	j := w.job("ttl")
	if j.Status.CompletionTime == nil || !j.Status.CompletionTime.Time.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("completionTime %v", j.Status.CompletionTime)
	}
	if due, ok := nextDeadline(j); !ok || !due.Equal(t0.Add(110*time.Second)) {
		t.Errorf("next deadline %v %v", due, ok)
	}
	if d := RequeueAfter(w, jobRef("ttl"), t0.Add(60*time.Second)); d != 50*time.Second {
		t.Errorf("requeue at 60s: after %s, want 50s", d)
	}
	if as := w.reconcile(jobRef("ttl"), t0.Add(109*time.Second)); len(as) != 0 {
		t.Fatalf("before the TTL: %d appends", len(as))
	}
	if d := RequeueAfter(w, jobRef("ttl"), t0.Add(111*time.Second)); d != reconcile.Overdue {
		t.Errorf("requeue past the TTL: after %s, want %s", d, reconcile.Overdue)
	}
	w.reconcile(jobRef("ttl"), t0.Add(110*time.Second))
	if w.job("ttl") != nil || len(w.pods()) != 0 {
		t.Errorf("job and pods should be gone: job %v, %d pods", w.job("ttl") != nil, len(w.pods()))
	}
}

func TestSuspendAndResume(t *testing.T) {
	w := newWorld(t)
	w.create(jobKind, newJob("s", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30) }), "job-s")
	w.reconcile(jobRef("s"), t0)
	// Suspend: the pod goes, startTime is cleared.
	o, _ := w.Get(jobRef("s"))
	j := w.job("s")
	j.Spec.Suspend = ptr.To(true)
	a, _ := reconcile.Update(jobKind, j, o, events.ChangeSpec)
	w.apply(a)
	w.reconcile(jobRef("s"), t0.Add(10*time.Second))
	if j := w.job("s"); j.Status.StartTime != nil || cond(j) != "Suspended/JobSuspended" || phases(w.pods())[corev1.PodPending] != 0 {
		t.Fatalf("suspended: startTime %v, conditions %q, pods %v", j.Status.StartTime, cond(j), phases(w.pods()))
	}
	// Resume an hour later: the deadline counts from now.
	o, _ = w.Get(jobRef("s"))
	j = w.job("s")
	j.Spec.Suspend = ptr.To(false)
	a, _ = reconcile.Update(jobKind, j, o, events.ChangeSpec)
	w.apply(a)
	w.reconcile(jobRef("s"), t0.Add(time.Hour))
	j = w.job("s")
	if j.Status.StartTime == nil || !j.Status.StartTime.Time.Equal(t0.Add(time.Hour)) || cond(j) != "" || phases(w.pods())[corev1.PodPending] != 1 {
		t.Fatalf("resumed: startTime %v, conditions %q, pods %v", j.Status.StartTime, cond(j), phases(w.pods()))
	}
	if c := condition(&j.Status, batchv1.JobSuspended); c == nil || c.Reason != "JobResumed" {
		t.Errorf("Suspended condition %+v", c)
	}
}

func TestIndexes(t *testing.T) {
	for _, tt := range []struct {
		in   []int
		want string
	}{
		{nil, ""}, {[]int{0}, "0"}, {[]int{0, 1}, "0-1"}, {[]int{1, 3, 4, 5, 7}, "1,3-5,7"}, {[]int{9, 2}, "2"},
	} {
		set := map[int]bool{}
		for _, i := range tt.in {
			set[i] = true
		}
		got := formatIndexes(set, 8)
		if got != tt.want {
			t.Errorf("format %v = %q, want %q", tt.in, got, tt.want)
		}
		if back := formatIndexes(toSet(parseIndexes(got)), 8); back != got {
			t.Errorf("round trip %q = %q", got, back)
		}
	}
}

func toSet(xs []int) map[int]bool {
	out := map[int]bool{}
	for _, x := range xs {
		out[x] = true
	}
	return out
}
