package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/agent/runtime"
	"github.com/wakehq/wake/agent/runtime/libct"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// podWorker owns one pod (by uid) on this node: it converges containers on
// the pod's spec, level-based, whenever something changes (the pod, a
// container's exit, a probe, a back-off's end), and reports status.
type podWorker struct {
	a   *Agent
	uid string
	ref events.Ref

	kick chan struct{}

	// Owned by the worker goroutine.
	sandbox  *runtime.PodSandbox
	ip       string
	vols     map[string]string
	ctrs     map[string]*ctrState
	lastPod  *corev1.Pod
	netErr   string
	started  time.Time
	adopted  bool
	probing  map[string]probeRun // by container id
	stopping bool
	rejected *rejection // refused by admission, or evicted (written under a.mu and mu)

	mu      sync.Mutex
	current *corev1.Pod             // the pod as last read by sync
	evicted *rejection              // asked by the eviction manager (eviction.go)
	probes  map[string]*probeResult // by container id
	// unhealthy are the running containers whose liveness or startup
	// probe failed, with their grace period: decide kills them.
	unhealthy map[string]time.Duration // by container id
}

// ctrState is what the worker knows of one spec container.
type ctrState struct {
	name     string
	init     bool
	id       string // the current runtime container, "" before the first
	attempt  int
	restarts int32
	state    runtime.State // of id, refreshed at each sync
	last     *corev1.ContainerStateTerminated
	image    string
	imageID  string

	waitReason, waitMsg string
	hookErr             string    // the current attempt's postStart hook failed so
	retryAt             time.Time // no new attempt before (back-off)
	backoff             time.Duration
	pullBackoff         time.Duration
}

func newPodWorker(a *Agent, o *projections.Object) *podWorker {
	return &podWorker{
		a: a, uid: o.UID, ref: o.Ref, kick: make(chan struct{}, 1),
		ctrs: map[string]*ctrState{}, probing: map[string]probeRun{}, probes: map[string]*probeResult{},
		unhealthy: map[string]time.Duration{},
	}
}

func (w *podWorker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *podWorker) podDir() string { return w.a.dir("pods", w.uid) }

func (w *podWorker) run(ctx context.Context) {
	defer w.stopProbes("")
	for {
		done, next := w.sync(ctx)
		if done {
			return
		}
		var timer <-chan time.Time
		if next > 0 {
			t := time.NewTimer(next)
			timer = t.C
			defer t.Stop()
		}
		select {
		case <-w.kick:
		case <-timer:
		case <-ctx.Done():
			return
		}
	}
}

// sync converges once; done means the pod is gone and cleaned up. next,
// when positive, is when to look again even if nothing happens. It
// observes (observe), decides (decide.go) and acts (act).
func (w *podWorker) sync(ctx context.Context) (done bool, next time.Duration) {
	o, pod, ok := w.observe(ctx)
	if !ok {
		return false, 0
	}
	acts := decide(w.view(pod))
	return w.act(ctx, o, pod, acts)
}

// observe reads the pod from the log (nil when it is gone or no longer
// bound to the node), adopts what a previous run left, and refreshes the
// containers of a pod that runs. ok is false when the pod does not
// decode.
func (w *podWorker) observe(ctx context.Context) (o *projections.Object, pod *corev1.Pod, ok bool) {
	o, found := w.a.cfg.View.Get(w.ref)
	if !found || o.UID != w.uid || !w.a.mine(o) {
		return o, nil, true
	}
	pod = &corev1.Pod{}
	if err := json.Unmarshal(o.Raw, pod); err != nil {
		w.a.log.Error("pod does not decode", "pod", w.ref.String(), "err", err)
		return o, nil, false
	}
	w.lastPod = pod
	if !w.adopted {
		w.adopt(ctx, pod)
	}
	if pod.DeletionTimestamp != nil {
		return o, pod, true
	}
	w.mu.Lock()
	w.current = pod
	evicted := w.evicted != nil
	w.mu.Unlock()
	if evicted || w.rejected != nil {
		return o, pod, true
	}
	for _, c := range pod.Spec.InitContainers {
		w.ctr(c.Name, true)
	}
	for _, c := range pod.Spec.Containers {
		w.ctr(c.Name, false)
	}
	if w.started.IsZero() {
		w.started = w.a.now()
	}
	w.refresh(ctx)
	return o, pod, true
}

// view is decide's input: what the worker knows of pod and its
// containers now.
func (w *podWorker) view(pod *corev1.Pod) podView {
	v := podView{Pod: pod, LastPod: w.lastPod, Stopping: w.stopping, Rejected: w.rejected != nil,
		Containers: make(map[string]containerView, len(w.ctrs)), Now: w.a.now()}
	w.mu.Lock()
	defer w.mu.Unlock()
	v.Evicted = w.evicted != nil
	for name, cs := range w.ctrs {
		cv := containerView{Status: cs.state.Status, Exit: cs.state.Exit, RetryAt: cs.retryAt}
		if grace, ok := w.unhealthy[cs.id]; ok && cs.id != "" {
			cv.Unhealthy, cv.KillGrace = true, grace
		}
		v.Containers[name] = cv
	}
	return v
}

// act carries out decide's actions, in their order.
func (w *podWorker) act(ctx context.Context, o *projections.Object, pod *corev1.Pod, acts podActions) (done bool, next time.Duration) {
	switch {
	case acts.Teardown:
		return w.finish(ctx, o, pod, acts)
	case acts.Evict:
		// Evicted: stop at once (a hard eviction), then report Failed.
		w.mu.Lock()
		ev := w.evicted
		w.mu.Unlock()
		w.terminate(ctx, acts.Grace)
		w.recordEvent(ctx, pod, corev1.EventTypeWarning, "Evicted", ev.Message)
		w.a.mu.Lock()
		w.mu.Lock()
		w.rejected = ev
		w.mu.Unlock()
		w.a.mu.Unlock()
	}
	if acts.Report == reportRejected {
		return false, w.reportRejected(ctx, o, pod)
	}
	next = w.converge(ctx, pod, acts)
	if err := w.report(ctx, o, pod); err != nil {
		if ctx.Err() != nil {
			return true, 0
		}
		if isConflict(err) {
			w.a.catchUp(ctx)
			return false, time.Millisecond
		}
		w.a.log.Warn("pod status not written; retrying", "pod", w.ref.String(), "err", err)
		return false, time.Second
	}
	return false, next
}

// finish ends a pod that is gone from the log, or whose deletion was
// requested: containers stopped within the grace period, everything
// removed, then (deletion) the pod deleted from the log.
func (w *podWorker) finish(ctx context.Context, o *projections.Object, pod *corev1.Pod, acts podActions) (bool, time.Duration) {
	if acts.KillPod {
		w.terminate(ctx, acts.Grace)
	}
	if err := w.teardown(ctx); err != nil {
		w.a.log.Warn("pod cleanup incomplete; retrying", "pod", w.ref.String(), "err", err)
		if pod != nil {
			w.stopping = false // a deleted pod's containers are stopped again
		}
		return false, 2 * time.Second
	}
	if acts.Delete && !w.deleteFromLog(ctx, o, pod) {
		return false, time.Second
	}
	return acts.Done, 0
}

// adopt picks up what a previous agent run left for this pod: the
// sandbox, its address, the containers (the newest attempt of each name),
// and restart counts and last states from the pod's status in the log.
func (w *podWorker) adopt(ctx context.Context, pod *corev1.Pod) {
	w.adopted = true
	w.loadSandbox()
	if pod.Status.StartTime != nil {
		w.started = pod.Status.StartTime.Time
	}
	prev := map[string]corev1.ContainerStatus{}
	for _, s := range append(slices.Clone(pod.Status.InitContainerStatuses), pod.Status.ContainerStatuses...) {
		prev[s.Name] = s
	}
	for _, c := range pod.Spec.InitContainers {
		w.ctr(c.Name, true)
	}
	for _, c := range pod.Spec.Containers {
		w.ctr(c.Name, false)
	}
	for name, cs := range w.ctrs {
		if s, ok := prev[name]; ok {
			cs.restarts = s.RestartCount
			cs.last = s.LastTerminationState.Terminated
			cs.image, cs.imageID = s.Image, s.ImageID
		}
	}
	ctrs, err := w.a.rt.List(ctx)
	if err != nil {
		return
	}
	for _, st := range ctrs {
		if st.SandboxID != w.uid {
			continue
		}
		name, attempt, ok := parseContainerID(st.ID)
		cs := w.ctrs[name]
		if !ok || cs == nil || attempt < cs.attempt {
			w.a.rt.Delete(ctx, st.ID) // an older attempt (or a container the spec lost)
			continue
		}
		if cs.id != "" {
			w.a.rt.Delete(ctx, cs.id)
		}
		cs.id, cs.attempt, cs.state = st.ID, attempt, st
		if st.Status == runtime.Running {
			w.watchExit(ctx, st.ID)
			if c := specContainer(pod, name); c != nil {
				ps := prev[name]
				w.startProbes(ctx, pod, c, st.ID, &ps)
				w.setReady(st.ID, prev[name].Ready) // as reported, until a probe says otherwise
			}
		}
	}
}

func specContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == name {
				return &cs[i]
			}
		}
	}
	return nil
}

func (w *podWorker) ctr(name string, init bool) *ctrState {
	cs, ok := w.ctrs[name]
	if !ok {
		cs = &ctrState{name: name, init: init}
		w.ctrs[name] = cs
	}
	return cs
}

// containerID names a container: pod uid, container name, attempt.
func containerID(uid, name string, attempt int) string {
	return uid + "_" + name + "_" + strconv.Itoa(attempt)
}

func parseContainerID(id string) (name string, attempt int, ok bool) {
	parts := strings.Split(id, "_")
	if len(parts) != 3 {
		return "", 0, false
	}
	n, err := strconv.Atoi(parts[2])
	return parts[1], n, err == nil
}

type sandboxFile struct {
	Version int                `json:"version"`
	Sandbox runtime.PodSandbox `json:"sandbox"`
	IP      string             `json:"ip"`
}

func (w *podWorker) loadSandbox() {
	b, err := os.ReadFile(filepath.Join(w.podDir(), "sandbox.json"))
	if err != nil {
		return
	}
	var f sandboxFile
	if json.Unmarshal(b, &f) == nil {
		w.sandbox, w.ip = &f.Sandbox, f.IP
	}
}

// ensureSandbox creates the pod's namespaces, network, /etc files and
// volumes once (each step is idempotent).
func (w *podWorker) ensureSandbox(pod *corev1.Pod, lk Lookup) error {
	dir := w.podDir()
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return err
	}
	if w.sandbox == nil {
		sbDir := w.a.dir("sandboxes")
		libct.RemoveSandbox(sbDir, runtime.PodSandbox{ID: w.uid}) // a half-made one from a crash
		host := libct.HostNamespaces{Network: pod.Spec.HostNetwork, IPC: pod.Spec.HostIPC, PID: pod.Spec.HostPID}
		sb, err := libct.NewSandboxSharing(sbDir, w.uid, podHostname(pod), host)
		if err != nil {
			return err
		}
		ip := w.a.machine.InternalIP // on the node's network: no veth, no address of its own
		if !host.Network {
			addr, err := w.a.net.Attach(w.uid, sb.NetNS)
			if err != nil {
				libct.RemoveSandbox(sbDir, sb)
				return fmt.Errorf("network: %w", err)
			}
			ip = addr.String()
		}
		if err := writeEtcFiles(dir, pod, ip, w.a.dns); err != nil {
			return err
		}
		b, _ := json.Marshal(sandboxFile{Version: 1, Sandbox: sb, IP: ip})
		if err := os.WriteFile(filepath.Join(dir, "sandbox.json"), b, 0o600); err != nil {
			return err
		}
		w.sandbox, w.ip = &sb, ip
	}
	if w.vols == nil {
		vols, err := w.a.setupVolumes(pod, dir, lk)
		if err != nil {
			return err
		}
		if !pod.Spec.HostIPC {
			// One /dev/shm for the pod's containers, as the pause
			// container's is shared in Kubernetes (64 MiB, the default).
			if err := os.MkdirAll(podShm(dir), 0o1777); err != nil {
				return err
			}
			if err := ensureTmpfs(podShm(dir), "mode=1777,size=64m"); err != nil {
				return fmt.Errorf("pod /dev/shm: %w", err)
			}
		}
		w.vols = vols
	} else {
		w.a.refreshVolumes(pod, dir, lk)
	}
	return nil
}

// converge acts on a running pod: its sandbox first, then the kills and
// starts decide chose. It returns when to look again.
func (w *podWorker) converge(ctx context.Context, pod *corev1.Pod, acts podActions) time.Duration {
	if !acts.Sandbox {
		return acts.After
	}
	lk := lookup{view: w.a.cfg.View, ns: pod.Namespace}
	if err := w.ensureSandbox(pod, lk); err != nil {
		w.netErr = err.Error()
		for _, cs := range w.ctrs {
			if cs.id == "" {
				cs.waitReason, cs.waitMsg = "ContainerCreating", err.Error()
			}
		}
		var ce *configError
		if !errors.As(err, &ce) {
			w.a.log.Warn("pod sandbox not ready", "pod", w.ref.String(), "err", err)
		}
		return 2 * time.Second
	}
	w.netErr = ""
	for _, k := range acts.Kill {
		w.kill(ctx, pod, w.ctrs[k.Name].id, k.Grace)
	}
	now := w.a.now()
	next := acts.After
	for _, name := range acts.Start {
		c, cs := specContainer(pod, name), w.ctrs[name]
		w.start(ctx, pod, c, cs, lk)
		if d := cs.retryAt.Sub(now); d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	return next
}

// refresh reads the runtime's state of every current container.
func (w *podWorker) refresh(ctx context.Context) {
	for _, cs := range w.ctrs {
		if cs.id == "" {
			continue
		}
		st, err := w.a.rt.State(ctx, cs.id)
		if err != nil {
			cs.id, cs.state = "", runtime.State{}
			continue
		}
		if st.Status == runtime.Exited && st.Exit == nil {
			st.Status = runtime.Unknown // the exit is being recorded: look again soon
		}
		if cs.state.Status != st.Status {
			w.a.log.Debug("container state", "container", cs.id, "from", cs.state.Status, "to", st.Status, "exit", st.Exit)
		}
		if cs.state.Status == runtime.Running && st.Status == runtime.Exited {
			w.stopProbes(cs.id)
			if st.FinishedAt.Sub(st.StartedAt) > 10*time.Minute {
				cs.backoff = 0 // it ran long enough: forget earlier crashes
			}
		}
		cs.state = st
	}
}

func (cs *ctrState) succeeded() bool {
	return cs.state.Exit != nil && cs.state.Exit.Code == 0 && !cs.state.Exit.CodeUnknown
}

func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// nextBackoff doubles d from base up to max.
func nextBackoff(d, base, max time.Duration) time.Duration {
	if d == 0 {
		return base
	}
	return min(2*d, max)
}

// start runs a new attempt of container c: image, configuration, the
// previous attempt's removal, create and start. Failures become the
// container's waiting reason and a back-off.
func (w *podWorker) start(ctx context.Context, pod *corev1.Pod, c *corev1.Container, cs *ctrState, lk Lookup) {
	now := w.a.now()
	im, err := w.a.ensureImage(ctx, pod, c)
	if err != nil {
		var pe *image.PullError
		var never *imageNeverPull
		switch {
		case errors.As(err, &never):
			cs.waitReason, cs.waitMsg = "ErrImageNeverPull", never.msg
		case errors.As(err, &pe):
			cs.waitReason, cs.waitMsg = "ErrImagePull", pe.Reason
		default:
			cs.waitReason, cs.waitMsg = "ErrImagePull", err.Error()
		}
		cs.pullBackoff = nextBackoff(cs.pullBackoff, w.a.cfg.BackoffBase, w.a.cfg.BackoffMax)
		cs.retryAt = now.Add(cs.pullBackoff)
		return
	}
	cs.pullBackoff = 0
	spec, err := w.containerSpec(pod, c, cs, im, lk)
	if err != nil {
		cs.waitReason, cs.waitMsg = "CreateContainerConfigError", err.Error()
		cs.retryAt = now.Add(2 * time.Second)
		return
	}
	restart := cs.id != ""
	if restart {
		if cs.state.Exit != nil {
			cs.last = terminated(cs.id, cs.state)
		}
		if err := w.a.rt.Delete(ctx, cs.id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			w.a.log.Warn("previous container not deleted", "container", cs.id, "err", err)
		}
		cs.id, cs.state = "", runtime.State{}
		cs.restarts++
		cs.backoff = nextBackoff(cs.backoff, w.a.cfg.BackoffBase, w.a.cfg.BackoffMax)
		cs.retryAt = now.Add(cs.backoff)
		logs.Remove(w.logPath(cs.name, cs.attempt-1)) // keep this attempt's and the previous one's
	}
	cs.attempt++
	spec.ID = containerID(w.uid, c.Name, cs.attempt)
	spec.LogPath = w.logPath(c.Name, cs.attempt)
	os.MkdirAll(filepath.Dir(spec.LogPath), 0o700)
	cs.image, cs.imageID = c.Image, imageID(im)
	fail := func(reason string, err error) {
		cs.waitReason, cs.waitMsg = reason, err.Error()
		cs.backoff = nextBackoff(cs.backoff, w.a.cfg.BackoffBase, w.a.cfg.BackoffMax)
		cs.retryAt = now.Add(cs.backoff)
	}
	if err := w.a.rt.Create(ctx, spec); err != nil {
		fail("CreateContainerError", err)
		return
	}
	if err := w.a.rt.Start(ctx, spec.ID); err != nil {
		w.a.rt.Delete(ctx, spec.ID)
		fail("RunContainerError", err)
		return
	}
	cs.id = spec.ID
	cs.waitReason, cs.waitMsg = "", ""
	cs.state = runtime.State{ID: spec.ID, SandboxID: w.uid, Status: runtime.Running, StartedAt: now}
	if st, err := w.a.rt.State(ctx, spec.ID); err == nil && st.Status == runtime.Running {
		cs.state = st
	}
	w.watchExit(ctx, spec.ID)
	cs.hookErr = ""
	if msg, ok := w.postStart(ctx, pod, c, spec.ID); !ok {
		cs.hookErr = msg
		return
	}
	w.startProbes(ctx, pod, c, spec.ID, nil)
}

func (w *podWorker) logPath(name string, attempt int) string {
	return logs.Path(w.a.dir("pods"), w.uid, name, attempt)
}

// watchExit wakes the worker when the container exits.
func (w *podWorker) watchExit(ctx context.Context, id string) {
	w.a.wg.Add(1)
	go func() {
		defer w.a.wg.Done()
		if _, err := w.a.rt.Wait(ctx, id); err == nil {
			w.wake()
		}
	}()
}

// containerSpec resolves container c for the runtime.
func (w *podWorker) containerSpec(pod *corev1.Pod, c *corev1.Container, cs *ctrState, im *image.Image, lk Lookup) (runtime.ContainerSpec, error) {
	p := pod.DeepCopy()
	p.Status.PodIP, p.Status.HostIP = w.ip, w.a.machine.InternalIP
	env, vars, err := environment(p, c, im.Config, lk)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	args := command(c, im.Config, vars)
	if len(args) == 0 {
		return runtime.ContainerSpec{}, &configError{"no command specified: the image has no ENTRYPOINT or CMD and the container no command"}
	}
	uid, gid, err := user(pod, c, im.Config, w.a.images.LayerDirs(im))
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	cmVols := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		cmVols[v.Name] = v.ConfigMap != nil || v.Secret != nil || v.Projected != nil || v.DownwardAPI != nil
	}
	mounts, err := volumeMounts(c, w.vols, w.podDir(), cmVols)
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	hasHostname := slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "HOSTNAME=") })
	if !hasHostname {
		host := podHostname(pod)
		if pod.Spec.HostNetwork {
			host, _ = os.Hostname() // the node's UTS namespace
		}
		env = append(env, "HOSTNAME="+host)
	}
	cwd := c.WorkingDir
	if cwd == "" {
		cwd = im.Config.WorkingDir
	}
	sc, err := localSeccomp(seccompOf(pod, c), w.a.dir("seccomp"))
	if err != nil {
		return runtime.ContainerSpec{}, err
	}
	return runtime.ContainerSpec{
		Sandbox: *w.sandbox, Layers: w.a.images.LayerDirs(im),
		Args: args, Env: env, Cwd: cwd, UID: uid, GID: gid,
		Limits: limits(c), Privileged: privileged(c), Mounts: append(mounts, shmMount(pod, w.podDir())),
		Seccomp: sc,
	}, nil
}

func imageID(im *image.Image) string {
	if len(im.Refs) > 0 {
		repo := im.Refs[0]
		if i := strings.LastIndex(repo, "@"); i >= 0 {
			repo = repo[:i]
		} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		return repo + "@" + im.Digest
	}
	return im.ID
}

// terminate stops every container of the pod: SIGTERM, then SIGKILL once
// grace has passed, then removes them.
func (w *podWorker) terminate(ctx context.Context, grace time.Duration) {
	w.stopping = true
	w.stopProbes("")
	ctrs, err := w.a.rt.List(ctx)
	if err != nil {
		return
	}
	var mine []runtime.State
	for _, st := range ctrs {
		if st.SandboxID == w.uid {
			mine = append(mine, st)
		}
	}
	var wg sync.WaitGroup
	for _, st := range mine {
		if st.Status != runtime.Running && st.Status != runtime.Created {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := grace
			if st.Status == runtime.Created {
				g = 0
			}
			w.stopContainer(ctx, w.lastPod, w.ip, st.ID, g) // preStop hooks run in parallel, as the kubelet's
		}()
	}
	wg.Wait()
	w.refresh(ctx)
	for _, st := range mine {
		if err := w.a.rt.Delete(ctx, st.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			w.a.log.Warn("container not deleted", "container", st.ID, "err", err)
		}
	}
}

// teardown removes the pod's network, volumes, sandbox and directory.
func (w *podWorker) teardown(ctx context.Context) error {
	var errs []error
	if ctrs, err := w.a.rt.List(ctx); err == nil {
		for _, st := range ctrs {
			if st.SandboxID == w.uid {
				errs = append(errs, fmt.Errorf("container %s still exists", st.ID))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if w.a.net != nil {
		errs = append(errs, w.a.net.Detach(w.uid))
	}
	errs = append(errs, teardownVolumes(w.podDir()))
	sb := runtime.PodSandbox{ID: w.uid}
	if w.sandbox != nil {
		sb = *w.sandbox
	}
	errs = append(errs, libct.RemoveSandbox(w.a.dir("sandboxes"), sb))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	w.sandbox, w.vols = nil, nil
	return os.RemoveAll(w.podDir())
}

// deleteFromLog deletes a pod whose deletion was requested from the log
// once it is torn down, as the kubelet does (unless finalizers still
// hold it: a conflict re-reads it). It reports false when the deletion
// is to be retried.
func (w *podWorker) deleteFromLog(ctx context.Context, o *projections.Object, pod *corev1.Pod) bool {
	for attempt := 0; len(pod.Finalizers) == 0; attempt++ {
		ev := events.Event{Type: events.ObjectDeleted, Ref: o.Ref, APIVersion: "v1", Kind: "Pod", Data: o.Raw}
		_, err := w.a.append(ctx, appendOf(ev, o.Seq))
		if err == nil || ctx.Err() != nil || attempt >= 10 {
			break
		}
		if !isConflict(err) {
			w.a.log.Warn("pod deletion not written; retrying", "pod", w.ref.String(), "err", err)
			return false
		}
		w.a.catchUp(ctx)
		var ok bool
		if o, ok = w.a.cfg.View.Get(w.ref); !ok || o.UID != w.uid {
			break // deleted by someone else
		}
		if err := json.Unmarshal(o.Raw, pod); err != nil {
			break
		}
	}
	return true
}
