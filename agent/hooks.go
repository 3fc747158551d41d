package agent

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/runtime"
	"github.com/wakehq/wake/services/reconcile"
)

// minHookGrace is what is left of the grace period after a preStop hook
// that took it all, as the kubelet's minimumGracePeriodInSeconds.
const minHookGrace = 2 * time.Second

// postStartTimeout bounds a postStart hook: the kubelet waits without
// limit, but a worker must stay able to delete its pod.
const postStartTimeout = 2 * time.Minute

// runHook runs a lifecycle handler for container c (id, the pod at ip):
// exec in the container, httpGet (the pod's IP by default) or sleep. The
// message of a failure is the kubelet's.
func (w *podWorker) runHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id, ip string, h *corev1.LifecycleHandler) (string, error) {
	who := fmt.Sprintf("for Container %q in Pod %q", c.Name, podDesc(pod))
	switch {
	case h.Exec != nil:
		ex, ok := w.a.rt.(runtime.Execer)
		if !ok {
			err := fmt.Errorf("the runtime cannot exec")
			return fmt.Sprintf("Exec lifecycle hook (%v) %s failed - error: %v, message: %q", h.Exec.Command, who, err, ""), err
		}
		code, out, err := ex.Exec(ctx, id, h.Exec.Command)
		if err == nil && code != 0 {
			err = fmt.Errorf("command '%s' exited with %d: %s", strings.Join(h.Exec.Command, " "), code, strings.TrimSpace(string(out)))
		}
		if err != nil {
			return fmt.Sprintf("Exec lifecycle hook (%v) %s failed - error: %v, message: %q", h.Exec.Command, who, err, string(out)), err
		}
		return "", nil
	case h.HTTPGet != nil:
		// The kubelet's hook fails only when no answer comes: any status
		// code is an answer.
		if _, err := httpGet(ctx, c, ip, h.HTTPGet); err != nil {
			return fmt.Sprintf("HTTP lifecycle hook (%s) %s failed - error: %v", h.HTTPGet.Path, who, err), err
		}
		return "", nil
	case h.Sleep != nil:
		if !sleep(ctx, time.Duration(h.Sleep.Seconds)*time.Second) {
			err := ctx.Err()
			return fmt.Sprintf("Sleep lifecycle hook (%d) %s failed - error: %v", h.Sleep.Seconds, who, err), err
		}
		return "", nil
	}
	err := fmt.Errorf("invalid handler: %v", h)
	return fmt.Sprintf("Cannot run handler: %v", err), err
}

// podDesc is a pod as the kubelet names it in messages: name_namespace(uid).
func podDesc(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// postStart runs container c's postStart hook, if any, right after it
// started. On failure the container is stopped (its restart policy then
// applies), a FailedPostStartHook event is recorded, and the returned
// message becomes the container's PostStartHookError.
func (w *podWorker) postStart(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string) (string, bool) {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return "", true
	}
	hctx, cancel := context.WithTimeout(ctx, postStartTimeout)
	msg, err := w.runHook(hctx, pod, c, id, w.ip, c.Lifecycle.PostStart)
	cancel()
	if err == nil || ctx.Err() != nil {
		return "", err == nil
	}
	w.a.log.Info("postStart hook failed; stopping the container", "container", id, "err", err)
	// Like the kubelet, the event does not carry the hook's output.
	w.recordEvent(ctx, pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed")
	w.stopContainer(ctx, pod, w.ip, id, podGrace(pod))
	return msg, false
}

// stopContainer stops running container id of pod as the kubelet does:
// its preStop hook within the grace period, SIGTERM, what is left of the
// grace period (at least 2s after a hook), SIGKILL. It returns once the
// container has exited (or did not die within 10s of SIGKILL). pod may
// be nil (a container no spec knows): no hook then.
func (w *podWorker) stopContainer(ctx context.Context, pod *corev1.Pod, ip, id string, grace time.Duration) {
	if pod != nil && grace > 0 {
		if name, _, ok := parseContainerID(id); ok {
			if c := specContainer(pod, name); c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
				start := time.Now()
				hctx, cancel := context.WithTimeout(ctx, grace)
				msg, err := w.runHook(hctx, pod, c, id, ip, c.Lifecycle.PreStop)
				cancel()
				if err != nil && ctx.Err() == nil {
					w.a.log.Info("preStop hook failed", "container", id, "err", err)
					w.recordEvent(ctx, pod, corev1.EventTypeWarning, "FailedPreStopHook", msg)
				}
				grace = max(grace-time.Since(start), minHookGrace)
			}
		}
	}
	sig := syscall.SIGTERM
	if grace <= 0 {
		sig = syscall.SIGKILL
	}
	w.a.rt.Kill(ctx, id, sig)
	wctx, cancel := context.WithTimeout(ctx, max(grace, 0)+100*time.Millisecond)
	_, err := w.a.rt.Wait(wctx, id)
	cancel()
	if err != nil {
		w.a.rt.Kill(ctx, id, syscall.SIGKILL)
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		w.a.rt.Wait(kctx, id)
		cancel()
	}
}

// recordEvent appends a core/v1 Event about pod from the kubelet, as
// `kubectl describe pod` shows them. Best effort: a failure is logged.
func (w *podWorker) recordEvent(ctx context.Context, pod *corev1.Pod, typ, reason, message string) {
	now := w.a.now()
	ts := metav1.NewTime(now.UTC().Truncate(time.Second))
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod.Name, now.UnixNano()), Namespace: pod.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
			UID: pod.UID, ResourceVersion: pod.ResourceVersion},
		Reason: reason, Message: message, Type: typ, Count: 1,
		Source:         corev1.EventSource{Component: "kubelet", Host: w.a.cfg.NodeName},
		FirstTimestamp: ts, LastTimestamp: ts,
		ReportingController: "kubelet", ReportingInstance: w.a.cfg.NodeName,
	}
	ap, err := reconcile.Create(podEventKind, ev, now, fmt.Sprintf("event/%s/%s/%d", pod.UID, reason, now.UnixNano()))
	if err == nil {
		_, err = w.a.append(ctx, ap)
	}
	if err != nil && ctx.Err() == nil {
		w.a.log.Warn("event not recorded", "pod", pod.Namespace+"/"+pod.Name, "reason", reason, "err", err)
	}
}

var podEventKind = reconcile.MustKind("", "events")
