package tables

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Container states, for brevity.
func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func terminated(reason string, code, signal int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code, Signal: signal}}
}

func finished(d time.Duration) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: ago(d)}}
}

func status(name string, ready bool, restarts int32, state corev1.ContainerState) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready, RestartCount: restarts, State: state}
}

func cond(t corev1.PodConditionType, s corev1.ConditionStatus, reason string) corev1.PodCondition {
	return corev1.PodCondition{Type: t, Status: s, Reason: reason}
}

// pod has app container "app" plus one per further app status, and
// one init container per init status, named after the statuses.
func pod(phase corev1.PodPhase, inits []corev1.ContainerStatus, apps []corev1.ContainerStatus) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: objMeta("p", 10*time.Minute)}
	p.Status.Phase = phase
	p.Spec.Containers = []corev1.Container{{Name: "app", Image: "nginx"}}
	for i := range apps {
		if i > 0 {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: apps[i].Name})
		}
	}
	for _, s := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: s.Name})
	}
	p.Status.InitContainerStatuses = inits
	p.Status.ContainerStatuses = apps
	return p
}

func TestPodStatus(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	tests := []struct {
		name     string
		pod      *corev1.Pod
		ready    string
		status   string
		restarts string
	}{
		{"running", pod(corev1.PodRunning, nil, []corev1.ContainerStatus{status("app", true, 0, running())}), "1/1", "Running", "0"},
		{"running not ready", pod(corev1.PodRunning, nil, []corev1.ContainerStatus{status("app", false, 0, running())}), "0/1", "Running", "0"},
		{"pending unscheduled", pod(corev1.PodPending, nil, nil), "0/1", "Pending", "0"},
		{"container creating", pod(corev1.PodPending, nil, []corev1.ContainerStatus{status("app", false, 0, waiting("ContainerCreating"))}), "0/1", "ContainerCreating", "0"},
		{"err image pull", pod(corev1.PodPending, nil, []corev1.ContainerStatus{status("app", false, 0, waiting("ErrImagePull"))}), "0/1", "ErrImagePull", "0"},
		{"image pull backoff", pod(corev1.PodPending, nil, []corev1.ContainerStatus{status("app", false, 0, waiting("ImagePullBackOff"))}), "0/1", "ImagePullBackOff", "0"},
		{"crash loop with last restart", func() *corev1.Pod {
			s := status("app", false, 5, waiting("CrashLoopBackOff"))
			s.LastTerminationState = finished(2 * time.Minute)
			return pod(corev1.PodRunning, nil, []corev1.ContainerStatus{s})
		}(), "0/1", "CrashLoopBackOff", "5 (2m ago)"},
		{"restarts without a last termination", pod(corev1.PodRunning, nil, []corev1.ContainerStatus{status("app", true, 3, running())}), "1/1", "Running", "3"},
		{"latest of several restarts", func() *corev1.Pod {
			a, b := status("app", true, 1, running()), status("app2", true, 2, running())
			a.LastTerminationState, b.LastTerminationState = finished(3*time.Hour), finished(90*time.Second)
			return pod(corev1.PodRunning, nil, []corev1.ContainerStatus{a, b})
		}(), "2/2", "Running", "3 (90s ago)"},
		{"oom killed", pod(corev1.PodRunning, nil, []corev1.ContainerStatus{status("app", false, 0, terminated("OOMKilled", 137, 0))}), "0/1", "OOMKilled", "0"},
		{"exit code without reason", pod(corev1.PodRunning, nil, []corev1.ContainerStatus{status("app", false, 0, terminated("", 2, 0))}), "0/1", "ExitCode:2", "0"},
		{"signal without reason", pod(corev1.PodRunning, nil, []corev1.ContainerStatus{status("app", false, 0, terminated("", 137, 9))}), "0/1", "Signal:9", "0"},
		{"completed", pod(corev1.PodSucceeded, nil, []corev1.ContainerStatus{status("app", false, 0, terminated("Completed", 0, 0))}), "0/1", "Completed", "0"},
		{"error", pod(corev1.PodFailed, nil, []corev1.ContainerStatus{status("app", false, 0, terminated("Error", 1, 0))}), "0/1", "Error", "0"},
		{"evicted", func() *corev1.Pod {
			p := pod(corev1.PodFailed, nil, nil)
			p.Status.Reason = "Evicted"
			return p
		}(), "0/1", "Evicted", "0"},
		{"first container's reason wins", pod(corev1.PodRunning, nil, []corev1.ContainerStatus{
			status("app", false, 0, waiting("CrashLoopBackOff")), status("app2", false, 0, waiting("ErrImagePull")),
		}), "0/2", "CrashLoopBackOff", "0"},
		{"one completed, one running and pod ready", func() *corev1.Pod {
			p := pod(corev1.PodRunning, nil, []corev1.ContainerStatus{
				status("app", true, 0, running()), status("app2", false, 0, terminated("Completed", 0, 0)),
			})
			p.Status.Conditions = []corev1.PodCondition{cond(corev1.PodReady, corev1.ConditionTrue, "")}
			return p
		}(), "1/2", "Running", "0"},
		{"one completed, one running, pod not ready", pod(corev1.PodRunning, nil, []corev1.ContainerStatus{
			status("app", true, 0, running()), status("app2", false, 0, terminated("Completed", 0, 0)),
		}), "1/2", "NotReady", "0"},
		{"init running", pod(corev1.PodPending, []corev1.ContainerStatus{status("init0", false, 0, running())},
			[]corev1.ContainerStatus{status("app", false, 0, waiting("PodInitializing"))}), "0/1", "Init:0/1", "0"},
		{"second init running", pod(corev1.PodPending, []corev1.ContainerStatus{
			status("init0", false, 0, terminated("Completed", 0, 0)), status("init1", false, 0, running()),
		}, nil), "0/1", "Init:1/2", "0"},
		{"init waiting PodInitializing counts as progress", pod(corev1.PodPending, []corev1.ContainerStatus{
			status("init0", false, 0, waiting("PodInitializing")),
		}, nil), "0/1", "Init:0/1", "0"},
		{"init crash loop", func() *corev1.Pod {
			s := status("init0", false, 3, waiting("CrashLoopBackOff"))
			s.LastTerminationState = finished(time.Minute)
			p := pod(corev1.PodPending, []corev1.ContainerStatus{s}, []corev1.ContainerStatus{status("app", false, 0, waiting("PodInitializing"))})
			return p
		}(), "0/1", "Init:CrashLoopBackOff", "3 (60s ago)"},
		{"init error", pod(corev1.PodPending, []corev1.ContainerStatus{status("init0", false, 0, terminated("Error", 1, 0))}, nil), "0/1", "Init:Error", "0"},
		{"init exit code", pod(corev1.PodPending, []corev1.ContainerStatus{status("init0", false, 0, terminated("", 3, 0))}, nil), "0/1", "Init:ExitCode:3", "0"},
		{"init signal", pod(corev1.PodPending, []corev1.ContainerStatus{status("init0", false, 0, terminated("", 143, 15))}, nil), "0/1", "Init:Signal:15", "0"},
		{"init image pull", pod(corev1.PodPending, []corev1.ContainerStatus{status("init0", false, 0, waiting("ImagePullBackOff"))}, nil), "0/1", "Init:ImagePullBackOff", "0"},
		{"pod initializing", pod(corev1.PodPending, []corev1.ContainerStatus{
			status("init0", false, 0, terminated("Completed", 0, 0)),
		}, []corev1.ContainerStatus{status("app", false, 0, waiting("PodInitializing"))}), "0/1", "PodInitializing", "0"},
		{"init restarts stop counting once initialized", func() *corev1.Pod {
			s := status("init0", false, 4, terminated("Completed", 0, 0))
			s.LastTerminationState = finished(time.Hour)
			return pod(corev1.PodRunning, []corev1.ContainerStatus{s}, []corev1.ContainerStatus{status("app", true, 0, running())})
		}(), "1/1", "Running", "0"},
		{"sidecar counted and ready", func() *corev1.Pod {
			side := status("init0", true, 2, running())
			side.Started = ptr(true)
			side.LastTerminationState = finished(5 * time.Minute)
			p := pod(corev1.PodRunning, []corev1.ContainerStatus{side}, []corev1.ContainerStatus{status("app", true, 1, running())})
			p.Spec.InitContainers[0].RestartPolicy = &always
			p.Status.Conditions = []corev1.PodCondition{cond(corev1.PodInitialized, corev1.ConditionTrue, "")}
			return p
		}(), "2/2", "Running", "3 (5m ago)"},
		{"sidecar not started yet", func() *corev1.Pod {
			side := status("init0", false, 0, running())
			side.Started = ptr(false)
			p := pod(corev1.PodPending, []corev1.ContainerStatus{side}, []corev1.ContainerStatus{status("app", false, 0, waiting("PodInitializing"))})
			p.Spec.InitContainers[0].RestartPolicy = &always
			return p
		}(), "0/2", "Init:0/1", "0"},
		{"scheduling gated", func() *corev1.Pod {
			p := pod(corev1.PodPending, nil, nil)
			p.Status.Conditions = []corev1.PodCondition{cond(corev1.PodScheduled, corev1.ConditionFalse, corev1.PodReasonSchedulingGated)}
			return p
		}(), "0/1", "SchedulingGated", "0"},
		{"terminating", func() *corev1.Pod {
			p := pod(corev1.PodRunning, nil, []corev1.ContainerStatus{status("app", true, 0, running())})
			p.DeletionTimestamp = agoPtr(time.Second)
			return p
		}(), "1/1", "Terminating", "0"},
		{"deleted after it completed stays Completed", func() *corev1.Pod {
			p := pod(corev1.PodSucceeded, nil, []corev1.ContainerStatus{status("app", false, 0, terminated("Completed", 0, 0))})
			p.DeletionTimestamp = agoPtr(time.Second)
			return p
		}(), "0/1", "Completed", "0"},
		{"deleted on a lost node", func() *corev1.Pod {
			p := pod(corev1.PodRunning, nil, []corev1.ContainerStatus{status("app", true, 0, running())})
			p.Status.Reason = "NodeLost"
			p.DeletionTimestamp = agoPtr(time.Second)
			return p
		}(), "1/1", "Unknown", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells, err := Row(kind(t, "Pod"), tt.pod, now)
			if err != nil {
				t.Fatal(err)
			}
			got := []any{cells[1], cells[2], cells[3]}
			want := []any{tt.ready, tt.status, tt.restarts}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("READY, STATUS, RESTARTS = %q, want %q", got, want)
			}
		})
	}
}

func TestPodWideCells(t *testing.T) {
	p := pod(corev1.PodRunning, nil, []corev1.ContainerStatus{status("app", true, 0, running())})
	p.Spec.NodeName = "node-1"
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.7"}, {IP: "fd00::7"}}
	p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}}
	p.Status.Conditions = []corev1.PodCondition{cond("example.com/lb", corev1.ConditionTrue, ""), cond("example.com/dns", corev1.ConditionFalse, "")}

	cells, err := Row(kind(t, "Pod"), p, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"p", "1/1", "Running", "0", "10m", "10.244.1.7", "node-1", "<none>", "1/2"}
	if !reflect.DeepEqual(cells, want) {
		t.Errorf("cells = %q, want %q", cells, want)
	}

	bare, _ := Row(kind(t, "Pod"), pod(corev1.PodPending, nil, nil), now)
	if want := []any{"<none>", "<none>", "<none>", "<none>"}; !reflect.DeepEqual(bare[5:], want) {
		t.Errorf("wide cells of an unscheduled pod = %q, want %q", bare[5:], want)
	}
}

func TestPodRowConditions(t *testing.T) {
	k := kind(t, "Pod")
	tbl, err := Build(k, objs(pod(corev1.PodRunning, nil, nil), pod(corev1.PodSucceeded, nil, nil), pod(corev1.PodFailed, nil, nil)), "", now)
	if err != nil {
		t.Fatal(err)
	}
	if c := tbl.Rows[0].Conditions; c != nil {
		t.Errorf("running pod row conditions = %v, want none", c)
	}
	for i, reason := range map[int]string{1: "Succeeded", 2: "Failed"} {
		c := tbl.Rows[i].Conditions
		if len(c) != 1 || c[0].Type != metav1.RowCompleted || c[0].Status != metav1.ConditionTrue || c[0].Reason != reason {
			t.Errorf("row %d conditions = %+v, want Completed=True reason %s", i, c, reason)
		}
	}
}
