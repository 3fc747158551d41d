package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/agent/network"
	"github.com/wakehq/wake/agent/runtime/libct"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

func TestMain(m *testing.M) {
	libct.Init() // the test binary is also every container's init
	hostNS = threadNamespaces("self")
	os.Exit(m.Run())
}

// hostNS are the agent's own namespaces, as the process started in them.
var hostNS map[string]string

// threadNamespaces reads the mount, network, IPC and UTS namespaces of a
// task ("self" or "self/task/<tid>").
func threadNamespaces(task string) map[string]string {
	out := map[string]string{}
	for _, ns := range []string{"mnt", "net", "ipc", "uts"} {
		if l, err := os.Readlink("/proc/" + task + "/ns/" + ns); err == nil {
			out[ns] = l
		}
	}
	return out
}

// checkThreadsAtHome fails if a thread of this process (the main one,
// which /proc/self shows, included) is in a namespace other than the
// process's own: a container's or a pod's, entered and not left.
func checkThreadsAtHome(t *testing.T) {
	t.Helper()
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, e := range tasks {
		for ns, l := range threadNamespaces("self/task/" + e.Name()) {
			if l != hostNS[ns] {
				t.Errorf("thread %s (main: %d) is in %s, not the agent's %s", e.Name(), os.Getpid(), l, hostNS[ns])
			}
		}
	}
}

// harness is one agent against an in-process NATS server, projection and
// registry holding the test image.
type harness struct {
	cfg       Config
	stopAgent context.CancelFunc
	agentDone chan error
	log       *events.Log
	view      *projections.Projection
	agent     *Agent
	image     string
	state     string
	node      string
}

var harnessN int

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessWith(t, func(c *Config) {
		c.PodCIDR, c.Bridge = "10.251.0.0/24", fmt.Sprintf("wkt%d", os.Getpid()%100000)
	})
}

// startAgent runs a new agent on the harness's state directory.
func (h *harness) startAgent(t testing.TB) {
	t.Helper()
	a, err := New(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	h.stopAgent, h.agentDone = cancel, make(chan error, 1)
	go func() { h.agentDone <- a.Run(ctx) }()
}

// stop ends the agent; containers keep running.
func (h *harness) stop(t testing.TB) {
	h.stopAgent()
	if err := <-h.agentDone; err != nil {
		t.Errorf("agent: %v", err)
	}
}

func (h *harness) waitNode(t testing.TB) *corev1.Node {
	t.Helper()
	var node corev1.Node
	h.wait(t, 20*time.Second, "node registered", func() bool {
		o, ok := h.view.Get(events.Ref{Resource: "nodes", Name: h.node})
		return ok && reconcile.DecodeInto(o, &node) == nil
	})
	return &node
}

// wait polls cond on every projection change until it holds.
func (h *harness) wait(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for !cond() {
		seq := h.view.Seq()
		wctx, wcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		h.view.WaitFor(wctx, seq+1)
		wcancel()
		if ctx.Err() != nil {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
	}
}

func (h *harness) appendAs(t testing.TB, ap reconcile.Append) uint64 {
	t.Helper()
	ev := ap.Event
	ev.ID, ev.Actor, ev.Source = events.NewID(), "test", "wake/test"
	ev.RequestID, ev.Time = ev.ID, time.Now().UTC()
	seq, err := h.log.Append(context.Background(), ev, ap.Expect)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func (h *harness) createPod(t testing.TB, pod *corev1.Pod) {
	t.Helper()
	pod.Namespace = "default"
	pod.Spec.NodeName = h.node
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Image == "" {
			pod.Spec.Containers[i].Image = h.image
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Image == "" {
			pod.Spec.InitContainers[i].Image = h.image
		}
	}
	ap, err := reconcile.Create(podKind, pod, time.Now(), pod.Name+time.Now().String())
	if err != nil {
		t.Fatal(err)
	}
	h.appendAs(t, ap)
}

func (h *harness) pod(name string) (*corev1.Pod, *projections.Object) {
	o, ok := h.view.Get(events.Ref{Resource: "pods", Namespace: "default", Name: name})
	if !ok {
		return nil, nil
	}
	var p corev1.Pod
	if reconcile.DecodeInto(o, &p) != nil {
		return nil, nil
	}
	return &p, o
}

// evicted reports whether pod name is Failed with reason Evicted.
func (h *harness) evicted(name string) bool {
	p, _ := h.pod(name)
	return p != nil && isEvicted(p)
}

// isEvicted reports whether p is Failed with reason Evicted: waitPod's
// condition, so that the pod it returns is the one that was (h.evicted
// reads the pod again).
func isEvicted(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted"
}

func (h *harness) waitPod(t testing.TB, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	h.wait(t, 30*time.Second, name+": "+what, func() bool {
		p, _ = h.pod(name)
		return p != nil && cond(p)
	})
	return p
}

func (h *harness) deletePod(t testing.TB, name string) {
	t.Helper()
	_, o := h.pod(name)
	if o == nil {
		return
	}
	ap, err := reconcile.Delete(podKind, o, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !ap.Empty() {
		h.appendAs(t, ap)
	}
	h.wait(t, 40*time.Second, name+" deleted", func() bool { p, _ := h.pod(name); return p == nil })
}

// deletePods deletes pods at once and waits until all are gone.
func (h *harness) deletePods(t testing.TB, names []string) {
	t.Helper()
	for _, name := range names {
		if _, o := h.pod(name); o != nil {
			if ap := must(reconcile.Delete(podKind, o, time.Now())); !ap.Empty() {
				h.appendAs(t, ap)
			}
		}
	}
	h.wait(t, 60*time.Second, "pods deleted", func() bool {
		for _, name := range names {
			if p, _ := h.pod(name); p != nil {
				return false
			}
		}
		return true
	})
}

func (h *harness) deleteAll(t testing.TB) {
	objs, _ := h.view.List("", "pods", "")
	for _, o := range objs {
		h.deletePod(t, o.Ref.Name)
	}
	// The agent tears down asynchronously after the deletion event: wait
	// for the state directory's pods to be gone before TempDir removal.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(filepath.Join(h.state, "pods"))
		if len(ents) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("pod directories left behind in %s", h.state)
}

func running(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestNodeRegistration(t *testing.T) {
	h := newHarness(t)
	node := h.waitNode(t)
	if node.Labels[corev1.LabelHostname] != h.node || node.Labels[corev1.LabelOSStable] != "linux" || node.Labels[corev1.LabelArchStable] == "" {
		t.Errorf("labels = %v", node.Labels)
	}
	if node.Status.Capacity.Pods().Value() != MaxPods || node.Status.Capacity.Cpu().Value() < 1 || node.Status.Capacity.Memory().Value() == 0 {
		t.Errorf("capacity = %v", node.Status.Capacity)
	}
	if s, ok := node.Status.Capacity[corev1.ResourceEphemeralStorage]; !ok || s.Value() == 0 {
		t.Errorf("no ephemeral-storage in %v", node.Status.Capacity)
	}
	if node.Status.NodeInfo.KubeletVersion != KubeletVersion || !strings.HasPrefix(node.Status.NodeInfo.ContainerRuntimeVersion, "wake://") {
		t.Errorf("nodeInfo = %+v", node.Status.NodeInfo)
	}
	if !slices.ContainsFunc(node.Status.Conditions, func(c corev1.NodeCondition) bool {
		return c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
	}) {
		t.Errorf("conditions = %+v", node.Status.Conditions)
	}
	// Heartbeats do not write events while nothing changes.
	seq := h.view.Seq()
	time.Sleep(2500 * time.Millisecond)
	if got := h.view.Seq(); got != seq {
		t.Errorf("%d events written by heartbeats in 2.5s, want 0", got-seq)
	}
	// A second agent on the same node adopts the node instead of failing.
	a2, err := New(Config{NodeName: h.node, StateDir: t.TempDir(), Log: h.log, View: h.view})
	if err != nil {
		t.Fatal(err)
	}
	a2.machine = h.agent.machine
	if _, err := a2.registerNode(context.Background()); err != nil {
		t.Fatalf("adopting the node: %v", err)
	}
}

func TestPodServesHTTPAndIsDeletedCleanly(t *testing.T) {
	h := newHarness(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "web", Args: []string{"serve", ":8080"},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}}},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, InitialDelaySeconds: 1},
		}},
	}}
	h.createPod(t, pod)
	p := h.waitPod(t, "web", "Running and Ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	if p.Status.PodIP == "" || p.Status.HostIP == "" || p.Status.StartTime == nil {
		t.Fatalf("status = %+v", p.Status)
	}
	cs := p.Status.ContainerStatuses[0]
	if cs.State.Running == nil || !cs.Ready || cs.ImageID == "" || !strings.Contains(cs.ImageID, "@sha256:") || cs.ContainerID == "" {
		t.Errorf("container status = %+v", cs)
	}
	resp, err := http.Get("http://" + p.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatalf("GET pod IP from the host: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := strings.TrimSpace(string(body)); got != "hello from web" {
		t.Errorf("pod answered %q", got)
	}

	uid := string(p.UID)
	h.deletePod(t, "web")
	h.wait(t, 10*time.Second, "teardown", func() bool {
		_, err := os.Stat(filepath.Join(h.state, "pods", uid))
		return os.IsNotExist(err)
	})
	if _, err := netlink.LinkByName(network.HostVeth(uid)); err == nil {
		t.Errorf("veth %s left behind", network.HostVeth(uid))
	}
	for _, sub := range []string{"memory", "cpu", "pids", "unified"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", sub, "wake", uid)); err == nil {
			t.Errorf("cgroup %s/wake/%s left behind", sub, uid)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), uid) {
		t.Errorf("mounts of the pod left behind:\n%s", grepLines(string(mounts), uid))
	}
	checkThreadsAtHome(t)
	leases, _ := h.agent.net.Leases()
	for ip, id := range leases {
		if id == uid {
			t.Errorf("address %s still leased", ip)
		}
	}
	if ctrs, _ := h.agent.rt.List(context.Background()); len(ctrs) != 0 {
		t.Errorf("containers left: %+v", ctrs)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestRestartAdoptsRunningPods(t *testing.T) {
	h := newHarness(t)
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "web", Args: []string{"serve", ":8080"}}},
	}})
	p := h.waitPod(t, "keep", "Running", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	before := p.Status.ContainerStatuses[0].ContainerID
	h.stop(t)
	h.startAgent(t)
	seq := h.view.Seq()
	// The new agent re-adopts: same container, no restart, same address.
	time.Sleep(1500 * time.Millisecond)
	p, _ = h.pod("keep")
	cs := p.Status.ContainerStatuses[0]
	if cs.ContainerID != before || cs.RestartCount != 0 || cs.State.Running == nil || !ready(p) {
		t.Errorf("after restart: %+v (before: %s)", cs, before)
	}
	if _, o := h.pod("keep"); o.Seq > seq {
		t.Errorf("the restarted agent rewrote an unchanged pod status")
	}
	resp, err := http.Get("http://" + p.Status.PodIP + ":8080/")
	if err != nil {
		t.Fatalf("pod unreachable after the agent restarted: %v", err)
	}
	resp.Body.Close()
	if ctrs, _ := h.agent.rt.List(context.Background()); len(ctrs) != 1 {
		t.Errorf("%d containers after restart, want 1", len(ctrs))
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	h := newHarness(t)
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "crash"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Args: []string{"exit", "3"}}},
	}})
	p := h.waitPod(t, "crash", "CrashLoopBackOff", func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) == 0 {
			return false
		}
		cs := p.Status.ContainerStatuses[0]
		return cs.RestartCount >= 1 && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff"
	})
	cs := p.Status.ContainerStatuses[0]
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 || lt.Reason != "Error" {
		t.Errorf("lastState = %+v", cs.LastTerminationState)
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running (restartPolicy Always)", p.Status.Phase)
	}
}

func TestConfigEnvVolumesAndInit(t *testing.T) {
	h := newHarness(t)
	for _, ap := range []reconcile.Append{
		must(reconcile.Create(reconcile.MustKind("", "configmaps"), &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "default"},
			Data:       map[string]string{"greeting": "hello", "file.txt": "from a configmap"},
		}, time.Now(), "cfg")),
		must(reconcile.Create(reconcile.MustKind("", "secrets"), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "sec", Namespace: "default"},
			Data:       map[string][]byte{"token": []byte("s3cret")},
		}, time.Now(), "sec")),
	} {
		h.appendAs(t, ap)
	}
	mode := int32(0o400)
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Spec: corev1.PodSpec{
		RestartPolicy:  corev1.RestartPolicyNever,
		InitContainers: []corev1.Container{{Name: "init", Args: []string{"true"}}},
		Containers: []corev1.Container{{
			Name: "c", Command: []string{"/bin/tool", "cat"}, WorkingDir: "/data",
			Args: []string{"/cfg/file.txt", "/sec/token", "/data", "/etc/hosts", "/etc/resolv.conf"},
			Env: []corev1.EnvVar{
				{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "greeting"}}},
				{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "token"}}},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}, {Name: "sec", MountPath: "/sec"}, {Name: "data", MountPath: "/data"}},
		}, {
			Name: "env", Args: []string{"inspect"}, WorkingDir: "/data",
			EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			Env: []corev1.EnvVar{
				{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "greeting"}}},
				{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "token"}}},
				{Name: "BOTH", Value: "$(GREETING)-$(TOKEN)"},
				{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		}},
		Volumes: []corev1.Volume{
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec", DefaultMode: &mode}}},
			{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		},
	}})
	p := h.waitPod(t, "cfg", "Succeeded", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	if st := p.Status.InitContainerStatuses; len(st) != 1 || st[0].State.Terminated == nil || st[0].State.Terminated.Reason != "Completed" {
		t.Errorf("init status = %+v", st)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if t0 := cs.State.Terminated; t0 == nil || t0.ExitCode != 0 || t0.Reason != "Completed" {
			t.Errorf("container status = %+v", cs)
		}
	}
	b, err := os.ReadFile(filepath.Join(h.state, "pods", string(p.UID), "logs", "c", "1.log"))
	if err != nil {
		t.Fatal(err)
	}
	out := string(logs.Content(b))
	for _, want := range []string{"== /cfg/file.txt 644\nfrom a configmap", "== /sec/token 400\ns3cret", "== /data dir 1777", "\tcfg\n", "nameserver"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err = os.ReadFile(filepath.Join(h.state, "pods", string(p.UID), "logs", "env", "1.log"))
	if err != nil {
		t.Fatal(err)
	}
	out = string(logs.Content(b))
	for _, want := range []string{`"GREETING=hello"`, `"TOKEN=s3cret"`, `"BOTH=hello-s3cret"`, `"POD=cfg"`, `"CM_greeting=hello"`, `"WAKE_TEST=1"`, `"cwd":"/data"`, `"args":["/bin/tool","inspect"]`} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %s:\n%s", want, out)
		}
	}
}

func must(a reconcile.Append, err error) reconcile.Append {
	if err != nil {
		panic(err)
	}
	return a
}

func TestHostPathRefusesAgentState(t *testing.T) {
	a := &Agent{cfg: Config{StateDir: "/var/lib/wake/agent", ProtectedPaths: []string{"/var/lib/wake/nats"}}}
	for _, p := range []string{"/var/lib/wake/agent", "/var/lib/wake/agent/pods", "/var/lib/wake", "/", "/var/lib/wake/nats/x"} {
		if _, err := a.hostPath(&corev1.HostPathVolumeSource{Path: p}); err == nil {
			t.Errorf("hostPath %s accepted", p)
		}
	}
	dir := t.TempDir()
	typ := corev1.HostPathDirectory
	if _, err := a.hostPath(&corev1.HostPathVolumeSource{Path: filepath.Join(dir, "nope"), Type: &typ}); err == nil {
		t.Error("missing Directory accepted")
	}
	typ = corev1.HostPathDirectoryOrCreate
	if _, err := a.hostPath(&corev1.HostPathVolumeSource{Path: filepath.Join(dir, "made"), Type: &typ}); err != nil {
		t.Error(err)
	}
	typ = corev1.HostPathFile
	if _, err := a.hostPath(&corev1.HostPathVolumeSource{Path: filepath.Join(dir, "made"), Type: &typ}); err == nil {
		t.Error("a directory passed as File")
	}
}

// BenchmarkApplyToRunning measures pod creation (the append) to Running
// and Ready observed in the projection, the image already present, for
// one pod at a time and for 20 at once.
func BenchmarkApplyToRunning(b *testing.B) {
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			h := newHarness(b)
			var lat []time.Duration
			var all []time.Duration
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				names := make([]string, n)
				for j := range names {
					names[j] = fmt.Sprintf("p%d-%d", i, j)
					h.createPod(b, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: names[j]}, Spec: corev1.PodSpec{
						TerminationGracePeriodSeconds: ptr(int64(1)),
						Containers:                    []corev1.Container{{Name: "c", Args: []string{"serve", ":8080"}, ImagePullPolicy: corev1.PullIfNotPresent}},
					}})
				}
				seen := map[string]bool{}
				h.wait(b, 60*time.Second, "all Running", func() bool {
					for _, nm := range names {
						if p, _ := h.pod(nm); !seen[nm] && p != nil && running(p) && ready(p) {
							seen[nm] = true
							lat = append(lat, time.Since(start))
						}
					}
					return len(seen) == n
				})
				all = append(all, time.Since(start))
				b.StopTimer()
				h.deletePods(b, names)
				b.StartTimer()
			}
			report := func(ds []time.Duration, name string) {
				sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
				p := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000 }
				b.ReportMetric(p(0.5), name+"-p50-ms")
				b.ReportMetric(p(0.99), name+"-p99-ms")
			}
			report(lat, "pod")
			report(all, "all")
		})
	}
}

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("WAKE_AGENT_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func ptr[T any](v T) *T { return &v }
