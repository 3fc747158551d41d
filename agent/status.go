package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/runtime"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

func appendOf(ev events.Event, expect uint64) reconcile.Append {
	return reconcile.Append{Event: ev, Expect: expect}
}

// report appends the pod's status when it differs from the one in the
// log, expecting the pod's current sequence.
func (w *podWorker) report(ctx context.Context, o *projections.Object, pod *corev1.Pod) error {
	st := w.status(pod, w.a.now())
	if equalStatus(pod.Status, st) {
		return nil
	}
	next := pod.DeepCopy()
	next.Status = st
	ap, err := reconcile.Update(podKind, next, o, events.ChangeStatus)
	if err != nil {
		return err
	}
	_, err = w.a.append(ctx, ap)
	return err
}

func equalStatus(a, b corev1.PodStatus) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// status is the pod's status as the worker sees it at now. Fields the
// agent does not own (qosClass, nominatedNodeName, resize) are kept;
// transition times are kept for conditions whose status did not change.
func (w *podWorker) status(pod *corev1.Pod, now time.Time) corev1.PodStatus {
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	st := *pod.Status.DeepCopy()
	st.HostIP = w.a.machine.InternalIP
	st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	st.PodIP, st.PodIPs = "", nil
	if w.ip != "" {
		st.PodIP = w.ip
		st.PodIPs = []corev1.PodIP{{IP: w.ip}}
	}
	if st.StartTime == nil {
		t := metav1.NewTime(w.started.UTC().Truncate(time.Second))
		st.StartTime = &t
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st.InitContainerStatuses = nil
	initialized := true
	initFailed := false
	for _, c := range pod.Spec.InitContainers {
		cs := w.ctrs[c.Name]
		s := w.containerStatus(pod, &c, cs, true)
		if !cs.succeeded() {
			initialized = false
			if cs.state.Exit != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				initFailed = true
			}
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, s)
	}
	st.ContainerStatuses = nil
	var unready []string
	for _, c := range pod.Spec.Containers {
		s := w.containerStatus(pod, &c, w.ctrs[c.Name], !initialized)
		if !s.Ready {
			unready = append(unready, c.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, s)
	}
	st.Phase = phase(pod.Spec.RestartPolicy, initialized, initFailed, st.ContainerStatuses)
	if terminal(pod) {
		st.Phase = pod.Status.Phase // a terminal phase never changes
	}
	cond := func(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg, LastTransitionTime: ts}
		if ok {
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
		}
		for _, p := range pod.Status.Conditions {
			if p.Type == t && p.Status == c.Status {
				c.LastTransitionTime, c.LastProbeTime = p.LastTransitionTime, p.LastProbeTime
			}
		}
		return c
	}
	done := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	notReady := fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	readyReason := "ContainersNotReady"
	if done {
		readyReason = "PodCompleted"
		notReady = ""
	}
	var uninit []string
	for _, s := range st.InitContainerStatuses {
		if s.State.Terminated == nil || s.State.Terminated.ExitCode != 0 {
			uninit = append(uninit, s.Name)
		}
	}
	initReason, initMsg := "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(uninit, " "))
	conds := []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, w.sandbox != nil, "", ""),
		cond(corev1.PodInitialized, initialized || (done && !initFailed), initReason, initMsg),
		cond(corev1.ContainersReady, len(unready) == 0 && !done, readyReason, notReady),
		cond(corev1.PodReady, len(unready) == 0 && !done, readyReason, notReady),
		cond(corev1.PodScheduled, true, "", ""),
	}
	// Keep conditions others own (readiness gates, DisruptionTarget).
	for _, p := range pod.Status.Conditions {
		switch p.Type {
		case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled:
		default:
			conds = append(conds, p)
		}
	}
	st.Conditions = conds
	return st
}

// containerStatus reports one container; pending means it waits for the
// init containers.
func (w *podWorker) containerStatus(pod *corev1.Pod, c *corev1.Container, cs *ctrState, pending bool) corev1.ContainerStatus {
	s := corev1.ContainerStatus{Name: c.Name, Image: c.Image, RestartCount: cs.restarts, LastTerminationState: corev1.ContainerState{Terminated: cs.last}}
	if cs.imageID != "" {
		s.ImageID = cs.imageID
	}
	if cs.id != "" {
		s.ContainerID = "wake://" + cs.id
	}
	st := cs.state
	switch {
	case cs.id == "" || st.Status == runtime.Created || st.Status == runtime.Unknown:
		reason, msg := cs.waitReason, cs.waitMsg
		if reason == "" {
			reason = "ContainerCreating"
			if pending && !cs.init {
				reason = "PodInitializing"
			}
		}
		if reason == "ErrImagePull" && w.a.now().Before(cs.retryAt) && cs.pullBackoff > w.a.cfg.BackoffBase {
			reason, msg = "ImagePullBackOff", fmt.Sprintf("Back-off pulling image %q: %s", c.Image, msg)
		}
		s.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: msg}
	case st.Status == runtime.Running:
		s.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(st.StartedAt.UTC().Truncate(time.Second))}
		started := w.startedState(cs.id, c)
		s.Started = &started
		ready, _ := w.probeState(cs.id, c)
		s.Ready = ready
	case st.Status == runtime.Exited && st.Exit != nil:
		t := terminated(cs.id, st)
		if restarts(pod.Spec.RestartPolicy, st.Exit) && !(cs.init && t.ExitCode == 0) && pod.DeletionTimestamp == nil && !terminal(pod) {
			s.LastTerminationState = corev1.ContainerState{Terminated: t}
			s.State.Waiting = &corev1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", cs.backoff, c.Name, pod.Name, pod.Namespace, pod.UID),
			}
			if cs.backoff == 0 { // restarting at once: not (yet) a crash loop
				s.State.Waiting.Reason, s.State.Waiting.Message = "ContainerCreating", ""
			}
			if cs.hookErr != "" { // the kubelet's reason for a start that failed so
				s.State.Waiting.Reason, s.State.Waiting.Message = "PostStartHookError", cs.hookErr
			}
		} else {
			if cs.hookErr != "" && t.Message == "" {
				t.Message = cs.hookErr
			}
			s.State.Terminated = t
		}
		started := false
		s.Started = &started
	}
	return s
}

// terminated is how the container id ended, in Kubernetes' terms.
func terminated(id string, st runtime.State) *corev1.ContainerStateTerminated {
	e := st.Exit
	t := &corev1.ContainerStateTerminated{
		ExitCode: int32(e.Code), Signal: int32(e.Signal), ContainerID: "wake://" + id,
		StartedAt:  metav1.NewTime(st.StartedAt.UTC().Truncate(time.Second)),
		FinishedAt: metav1.NewTime(st.FinishedAt.UTC().Truncate(time.Second)),
	}
	switch {
	case e.OOMKilled:
		t.Reason = "OOMKilled"
	case e.CodeUnknown:
		t.Reason, t.ExitCode = "ContainerStatusUnknown", 137
		t.Message = "The container's exit code was lost: it ended while the agent was restarting"
	case e.Code == 0:
		t.Reason = "Completed"
	default:
		t.Reason = "Error"
	}
	return t
}

// phase follows the kubelet's rules: Pending until initialized and every
// container has run; Running while one runs or will be restarted;
// Succeeded when all ended with 0 and none restarts; Failed otherwise.
func phase(policy corev1.RestartPolicy, initialized, initFailed bool, ss []corev1.ContainerStatus) corev1.PodPhase {
	if initFailed {
		return corev1.PodFailed
	}
	if !initialized {
		return corev1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, s := range ss {
		switch {
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil:
			if s.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		if policy == corev1.RestartPolicyAlways {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if policy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// lookup reads ConfigMaps and Secrets of one namespace from the view.
type lookup struct {
	view *projections.Projection
	ns   string
}

func (l lookup) ConfigMap(name string) (map[string]string, bool) {
	o, ok := l.view.Get(events.Ref{Resource: "configmaps", Namespace: l.ns, Name: name})
	if !ok {
		return nil, false
	}
	var cm corev1.ConfigMap
	if reconcile.DecodeInto(o, &cm) != nil {
		return nil, false
	}
	data := map[string]string{}
	for k, v := range cm.Data {
		data[k] = v
	}
	for k, v := range cm.BinaryData {
		data[k] = string(v)
	}
	return data, true
}

func (l lookup) Secret(name string) (map[string][]byte, bool) {
	o, ok := l.view.Get(events.Ref{Resource: "secrets", Namespace: l.ns, Name: name})
	if !ok {
		return nil, false
	}
	var s corev1.Secret
	if reconcile.DecodeInto(o, &s) != nil {
		return nil, false
	}
	data := map[string][]byte{}
	for k, v := range s.Data {
		data[k] = v
	}
	for k, v := range s.StringData {
		data[k] = []byte(v)
	}
	return data, true
}
