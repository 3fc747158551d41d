package agent

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wakehq/wake/services/reconcile"
)

// podEvents are the core/v1 Events recorded about pod name.
func (h *harness) podEvents(name string) []corev1.Event {
	objs, _ := h.view.List("", "events", "default")
	var out []corev1.Event
	for _, o := range objs {
		var ev corev1.Event
		if reconcile.DecodeInto(o, &ev) == nil && ev.InvolvedObject.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

func (h *harness) waitEvent(t *testing.T, pod, reason, contains string) corev1.Event {
	t.Helper()
	var found corev1.Event
	h.wait(t, 30*time.Second, pod+": event "+reason, func() bool {
		for _, ev := range h.podEvents(pod) {
			if ev.Reason == reason && strings.Contains(ev.Message, contains) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

func ctrStatusOf(p *corev1.Pod, name string) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == name {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func TestStartupProbe(t *testing.T) {
	h := newHarness(t)
	never := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9999)}}, PeriodSeconds: 1}
	// Liveness and readiness wait for the startup probe: a liveness probe
	// that always fails does not restart a container that has not started,
	// and a readiness probe that would succeed does not make it Ready.
	waiting := never.DeepCopy()
	waiting.FailureThreshold = 1000
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "waiting"}, Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr(int64(1)),
		Containers: []corev1.Container{{Name: "c", Args: []string{"serve", ":8080"},
			StartupProbe:   waiting,
			LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/tool", "exit", "1"}}}, PeriodSeconds: 1, FailureThreshold: 1},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
		}},
	}})
	// A startup probe that succeeds starts liveness and readiness.
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "starts"}, Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr(int64(1)),
		Containers: []corev1.Container{{Name: "c", Args: []string{"serve", ":8080"},
			StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
				PeriodSeconds: 1, FailureThreshold: 60}, // a loaded machine may take seconds to start the server
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
		}},
	}})
	// A startup probe that keeps failing restarts the container.
	failing := never.DeepCopy()
	failing.FailureThreshold = 2
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "fails"}, Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr(int64(1)),
		Containers:                    []corev1.Container{{Name: "c", Args: []string{"serve", ":8080"}, StartupProbe: failing}},
	}})

	p := h.waitPod(t, "starts", "Ready", ready)
	if cs := p.Status.ContainerStatuses[0]; cs.Started == nil || !*cs.Started || !cs.Ready {
		t.Errorf("starts: %+v", cs)
	}
	h.waitPod(t, "fails", "restarted", func(p *corev1.Pod) bool {
		cs := ctrStatusOf(p, "c")
		return cs != nil && cs.RestartCount >= 1
	})
	h.waitEvent(t, "fails", "Unhealthy", "Startup probe failed")

	p = h.waitPod(t, "waiting", "Running", running)
	time.Sleep(3 * time.Second)
	p, _ = h.pod("waiting")
	cs := ctrStatusOf(p, "c")
	if cs.RestartCount != 0 || cs.State.Running == nil || cs.Started == nil || *cs.Started || cs.Ready || ready(p) {
		t.Errorf("a container whose startup probe has not succeeded: %+v (pod ready %v)", cs, ready(p))
	}
}

// hookServer records the lifecycle hooks' GETs made from the host, and
// whether the pod still answered on its IP at that moment.
type hookServer struct {
	mu    sync.Mutex
	hits  map[string]time.Time
	alive map[string]bool
	podIP string
	port  int
}

func startHookServer(t *testing.T) *hookServer {
	hs := &hookServer{hits: map[string]time.Time{}, alive: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs.port = ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.mu.Lock()
		ip := hs.podIP
		hs.mu.Unlock()
		alive := false
		if ip != "" {
			c := http.Client{Timeout: time.Second}
			if resp, err := c.Get("http://" + ip + ":8080/"); err == nil {
				resp.Body.Close()
				alive = true
			}
		}
		hs.mu.Lock()
		hs.hits[r.URL.Path], hs.alive[r.URL.Path] = time.Now(), alive
		hs.mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError) // any answer is a hook's success
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return hs
}

func (hs *hookServer) hit(path string) (time.Time, bool, bool) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	at, ok := hs.hits[path]
	return at, hs.alive[path], ok
}

func (hs *hookServer) get(path string) *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Host: "127.0.0.1", Port: intstr.FromInt(hs.port), Path: path}}
}

func TestLifecycleHooks(t *testing.T) {
	h := newHarness(t)
	hs := startHookServer(t)
	exec := func(args ...string) *corev1.LifecycleHandler {
		return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: append([]string{"/bin/tool"}, args...)}}
	}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hooks"}, Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr(int64(4)),
		Containers: []corev1.Container{{
			Name: "web", Args: []string{"serve", ":8080"},
			Lifecycle: &corev1.Lifecycle{PostStart: hs.get("/post-start"), PreStop: hs.get("/pre-stop")},
		}, {
			Name: "sleeper", Args: []string{"sleep"},
			Lifecycle: &corev1.Lifecycle{PostStart: exec("true"), PreStop: exec("exit", "7")},
		}},
	}})
	p := h.waitPod(t, "hooks", "Running and Ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	if _, _, ok := hs.hit("/post-start"); !ok {
		t.Error("the postStart httpGet hook did not run")
	}
	hs.mu.Lock()
	hs.podIP = p.Status.PodIP
	hs.mu.Unlock()

	start := time.Now()
	h.deletePod(t, "hooks")
	at, alive, ok := hs.hit("/pre-stop")
	if !ok {
		t.Fatal("the preStop httpGet hook did not run")
	}
	if !alive {
		t.Error("the preStop hook ran after the container was stopped")
	}
	if at.Sub(start) > 2*time.Second {
		t.Errorf("preStop ran %s after the deletion", at.Sub(start))
	}
	// The exec preStop hook ran in the running container: its exit code
	// is in the FailedPreStopHook event.
	ev := h.waitEvent(t, "hooks", "FailedPreStopHook", "exited with 7")
	if ev.Type != corev1.EventTypeWarning || ev.Source.Component != "kubelet" || !strings.Contains(ev.Message, `Exec lifecycle hook ([/bin/tool exit 7]) for Container "sleeper"`) {
		t.Errorf("event = %+v", ev)
	}
}

func TestPostStartHookFailure(t *testing.T) {
	h := newHarness(t)
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "post"}, Spec: corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr(int64(1)),
		Containers: []corev1.Container{{Name: "c", Args: []string{"serve", ":8080"},
			Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/tool", "exit", "3"}}}}}},
	}})
	p := h.waitPod(t, "post", "PostStartHookError", func(p *corev1.Pod) bool {
		cs := ctrStatusOf(p, "c")
		return cs != nil && cs.RestartCount >= 1 && cs.State.Waiting != nil && cs.State.Waiting.Reason == "PostStartHookError"
	})
	if msg := ctrStatusOf(p, "c").State.Waiting.Message; !strings.Contains(msg, "command '/bin/tool exit 3' exited with 3") {
		t.Errorf("message = %q", msg)
	}
	ev := h.waitEvent(t, "post", "FailedPostStartHook", "")
	if ev.Message != "PostStartHook failed" {
		t.Errorf("event = %+v", ev)
	}
}

// A liveness probe that fails stops the container (the worker's Kill,
// decide.go) with an Unhealthy event; its restart policy then applies:
// Always restarts it, Never leaves the pod Failed.
func TestLivenessFailure(t *testing.T) {
	h := newHarness(t)
	failing := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/tool", "exit", "1"}}},
		PeriodSeconds: 1, FailureThreshold: 2}
	for name, policy := range map[string]corev1.RestartPolicy{"restarts": corev1.RestartPolicyAlways, "stays": corev1.RestartPolicyNever} {
		h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr(int64(1)), RestartPolicy: policy,
			Containers: []corev1.Container{{Name: "c", Args: []string{"serve", ":8080"}, LivenessProbe: failing}},
		}})
	}
	h.waitPod(t, "restarts", "restarted", func(p *corev1.Pod) bool {
		cs := ctrStatusOf(p, "c")
		return cs != nil && cs.RestartCount >= 1 && cs.LastTerminationState.Terminated != nil
	})
	h.waitEvent(t, "restarts", "Unhealthy", "Liveness probe failed")
	p := h.waitPod(t, "stays", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	if cs := ctrStatusOf(p, "c"); cs == nil || cs.RestartCount != 0 || cs.State.Terminated == nil {
		t.Errorf("stays: %+v", cs)
	}
	h.waitEvent(t, "stays", "Unhealthy", "Liveness probe failed")
}
