package agent

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/runtime"
)

// decidePod is a pod of init containers inits and app containers apps
// under policy.
func decidePod(policy corev1.RestartPolicy, inits []string, apps ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: corev1.PodSpec{RestartPolicy: policy}}
	for _, n := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n})
	}
	for _, n := range apps {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
	}
	return p
}

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	running := containerView{Status: runtime.Running}
	exited := func(code int) containerView {
		return containerView{Status: runtime.Exited, Exit: &runtime.ExitStatus{Code: code}}
	}
	backingOff := func(code int, until time.Duration) containerView {
		cv := exited(code)
		cv.RetryAt = t0.Add(until)
		return cv
	}
	lost := containerView{Status: runtime.Exited, Exit: &runtime.ExitStatus{CodeUnknown: true}}
	unhealthy := containerView{Status: runtime.Running, Unhealthy: true, KillGrace: 5 * time.Second}
	sec := func(n int64) *int64 { return &n }
	deleting := func(p *corev1.Pod, grace *int64, finalizers ...string) *corev1.Pod {
		p.DeletionTimestamp, p.DeletionGracePeriodSeconds, p.Finalizers = &metav1.Time{Time: t0}, grace, finalizers
		return p
	}
	phase := func(p *corev1.Pod, ph corev1.PodPhase) *corev1.Pod { p.Status.Phase = ph; return p }
	always, onFailure, never := corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever
	live := podActions{Sandbox: true, Report: reportStatus}
	with := func(f func(*podActions)) podActions { a := live; f(&a); return a }
	start := func(names ...string) podActions { return with(func(a *podActions) { a.Start = names }) }

	for _, tt := range []struct {
		name string
		v    podView
		want podActions
	}{
		// Start.
		{"new pod: every app container", podView{Pod: decidePod(always, nil, "a", "b")}, start("a", "b")},
		{"running: nothing", podView{Pod: decidePod(always, nil, "a"), Containers: map[string]containerView{"a": running}}, live},
		{"created, not started yet: never twice", podView{Pod: decidePod(always, nil, "a"),
			Containers: map[string]containerView{"a": {Status: runtime.Created}}}, live},
		{"state unknown: look again in a second, never start twice", podView{Pod: decidePod(always, nil, "a", "b"),
			Containers: map[string]containerView{"a": {Status: runtime.Unknown}}},
			with(func(a *podActions) { a.Start, a.After = []string{"b"}, time.Second })},

		// Restart per restartPolicy.
		{"Always: a success restarts", podView{Pod: decidePod(always, nil, "a"), Containers: map[string]containerView{"a": exited(0)}}, start("a")},
		{"Always: a failure restarts", podView{Pod: decidePod(always, nil, "a"), Containers: map[string]containerView{"a": exited(1)}}, start("a")},
		{"OnFailure: a failure restarts", podView{Pod: decidePod(onFailure, nil, "a"), Containers: map[string]containerView{"a": exited(2)}}, start("a")},
		{"OnFailure: a lost exit code counts as a failure", podView{Pod: decidePod(onFailure, nil, "a"), Containers: map[string]containerView{"a": lost}}, start("a")},
		{"OnFailure: a success stays", podView{Pod: decidePod(onFailure, nil, "a"), Containers: map[string]containerView{"a": exited(0)}}, live},
		{"Never: a failure stays", podView{Pod: decidePod(never, nil, "a", "b"), Containers: map[string]containerView{"a": exited(1), "b": running}}, live},

		// CrashLoopBackOff: no attempt before the back-off has passed;
		// look again when it has.
		{"back-off not passed: wait for it", podView{Pod: decidePod(always, nil, "a"), Now: t0.Add(4 * time.Second),
			Containers: map[string]containerView{"a": backingOff(1, 10*time.Second)}},
			with(func(a *podActions) { a.After = 6 * time.Second })},
		{"back-off passed: restart", podView{Pod: decidePod(always, nil, "a"), Now: t0.Add(10 * time.Second),
			Containers: map[string]containerView{"a": backingOff(1, 10*time.Second)}}, start("a")},
		{"the nearest back-off sets when to look again", podView{Pod: decidePod(always, nil, "a", "b", "c"), Now: t0,
			Containers: map[string]containerView{"a": backingOff(1, 40*time.Second), "b": backingOff(1, 20*time.Second), "c": exited(1)}},
			with(func(a *podActions) { a.Start, a.After = []string{"c"}, 20*time.Second })},
		{"a pull back-off too (no attempt yet)", podView{Pod: decidePod(always, nil, "a"), Now: t0,
			Containers: map[string]containerView{"a": {RetryAt: t0.Add(5 * time.Second)}}},
			with(func(a *podActions) { a.After = 5 * time.Second })},

		// Init containers: one at a time, in order, before any app container.
		{"the first init container first, alone", podView{Pod: decidePod(always, []string{"i1", "i2"}, "a")}, start("i1")},
		{"the next once the first succeeded", podView{Pod: decidePod(always, []string{"i1", "i2"}, "a"),
			Containers: map[string]containerView{"i1": exited(0)}}, start("i2")},
		{"none while one runs", podView{Pod: decidePod(always, []string{"i1", "i2"}, "a"),
			Containers: map[string]containerView{"i1": running}}, live},
		{"app containers once all succeeded", podView{Pod: decidePod(always, []string{"i1", "i2"}, "a", "b"),
			Containers: map[string]containerView{"i1": exited(0), "i2": exited(0)}}, start("a", "b")},
		{"a failed init container restarts (OnFailure)", podView{Pod: decidePod(onFailure, []string{"i1"}, "a"),
			Containers: map[string]containerView{"i1": exited(1)}}, start("i1")},
		{"a failed init container restarts (Always), after its back-off", podView{Pod: decidePod(always, []string{"i1"}, "a"), Now: t0,
			Containers: map[string]containerView{"i1": backingOff(1, 10*time.Second)}},
			with(func(a *podActions) { a.After = 10 * time.Second })},
		{"Never: a failed init container fails the pod, nothing more starts", podView{Pod: decidePod(never, []string{"i1", "i2"}, "a"),
			Containers: map[string]containerView{"i1": exited(1)}}, live},
		{"init state unknown: wait, nothing after it", podView{Pod: decidePod(always, []string{"i1"}, "a"),
			Containers: map[string]containerView{"i1": {Status: runtime.Unknown}}},
			with(func(a *podActions) { a.After = time.Second })},

		// Liveness or startup failure: kill; the restart follows its exit.
		{"liveness failed: kill within the probe's grace", podView{Pod: decidePod(always, nil, "a", "b"),
			Containers: map[string]containerView{"a": unhealthy, "b": running}},
			with(func(a *podActions) { a.Kill = []containerKill{{Name: "a", Grace: 5 * time.Second}} })},
		{"killed by its liveness probe: Always restarts it", podView{Pod: decidePod(always, nil, "a"),
			Containers: map[string]containerView{"a": exited(137)}}, start("a")},
		{"killed by its liveness probe: Never does not", podView{Pod: decidePod(never, nil, "a"),
			Containers: map[string]containerView{"a": exited(137)}}, live},
		{"an unhealthy mark on an exited container kills nothing", podView{Pod: decidePod(never, nil, "a"),
			Containers: map[string]containerView{"a": {Status: runtime.Exited, Exit: &runtime.ExitStatus{Code: 1}, Unhealthy: true}}}, live},

		// Deletion, eviction, refusal, the end.
		{"deletion: kill within its grace, tear down, delete", podView{Pod: deleting(decidePod(always, nil, "a"), sec(30)),
			Containers: map[string]containerView{"a": running}},
			podActions{KillPod: true, Grace: 30 * time.Second, Teardown: true, Delete: true, Done: true}},
		{"deletion without a grace period: at once", podView{Pod: deleting(decidePod(always, nil, "a"), nil)},
			podActions{KillPod: true, Teardown: true, Delete: true, Done: true}},
		{"deletion, containers stopped already: only the teardown is left", podView{Pod: deleting(decidePod(always, nil, "a"), sec(30)), Stopping: true},
			podActions{Grace: 30 * time.Second, Teardown: true, Delete: true, Done: true}},
		{"deletion held by a finalizer: not deleted from the log", podView{Pod: deleting(decidePod(always, nil, "a"), sec(1), "example.com/hold")},
			podActions{KillPod: true, Grace: time.Second, Teardown: true, Done: true}},
		{"deletion of a pod under back-off: no restart", podView{Pod: deleting(decidePod(always, nil, "a"), sec(0)), Now: t0,
			Containers: map[string]containerView{"a": exited(1)}},
			podActions{KillPod: true, Teardown: true, Delete: true, Done: true}},
		{"gone from the log: kill within 2s, tear down, end", podView{LastPod: decidePod(always, nil, "a")},
			podActions{KillPod: true, Grace: 2 * time.Second, Teardown: true, Done: true}},
		{"gone after its deletion: its grace period", podView{LastPod: deleting(decidePod(always, nil, "a"), sec(7))},
			podActions{KillPod: true, Grace: 7 * time.Second, Teardown: true, Done: true}},
		{"evicted: kill at once, report the eviction", podView{Pod: decidePod(always, nil, "a"), Evicted: true,
			Containers: map[string]containerView{"a": running}},
			podActions{KillPod: true, Evict: true, Report: reportRejected}},
		{"evicted and stopped: report only", podView{Pod: decidePod(always, nil, "a"), Evicted: true, Rejected: true}, podActions{Report: reportRejected}},
		{"refused by admission: report only", podView{Pod: decidePod(always, nil, "a"), Rejected: true}, podActions{Report: reportRejected}},
		{"Succeeded: report only, nothing restarts", podView{Pod: phase(decidePod(onFailure, nil, "a"), corev1.PodSucceeded),
			Containers: map[string]containerView{"a": exited(0)}}, podActions{Report: reportStatus}},
		{"Failed: no sandbox, nothing starts", podView{Pod: phase(decidePod(always, nil, "a"), corev1.PodFailed)}, podActions{Report: reportStatus}},
	} {
		if got := decide(tt.v); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

// decide reads its input only: the pod it is given is left as it was.
func TestDecideIsPure(t *testing.T) {
	pod := decidePod(corev1.RestartPolicyAlways, nil, "a")
	pod.Spec.InitContainers = append(make([]corev1.Container, 0, 2), corev1.Container{Name: "i1"}) // room to append into
	before := pod.DeepCopy()
	v := podView{Pod: pod, Containers: map[string]containerView{"i1": {Status: runtime.Exited, Exit: &runtime.ExitStatus{}}}}
	first := decide(v)
	if second := decide(v); !reflect.DeepEqual(first, second) {
		t.Errorf("two decisions on one view: %+v, then %+v", first, second)
	}
	if !reflect.DeepEqual(pod, before) || len(pod.Spec.InitContainers) != 1 || cap(pod.Spec.InitContainers) != 2 {
		t.Errorf("decide changed the pod: %+v", pod.Spec)
	}
	if s := pod.Spec.InitContainers[:2][1]; s.Name != "" {
		t.Errorf("decide wrote into the pod's init containers: %+v", s)
	}
}
