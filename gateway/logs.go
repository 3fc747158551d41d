package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/wakehq/wake/agent/logs"
)

// podLog serves GET pods/{name}/log: it checks the options and names as
// kube-apiserver does, then streams the log from the agent of the pod's
// node over NATS (agent/logs), flushing every chunk.
func (s *Server) podLog(w http.ResponseWriter, r *http.Request, t target) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(r, t)
	}
	req, err := parseLogOptions(r.URL.Query(), t.name)
	if err != nil {
		return err
	}
	pod, err := s.boundPod(r, t, &req.Container)
	if err != nil {
		return err
	}
	if err := waitingToStart(pod, req.Container, req.Previous); err != nil {
		return err
	}
	req.Namespace, req.Pod, req.UID = pod.Namespace, pod.Name, string(pod.UID)
	rc := http.NewResponseController(w)
	started := false
	c := &logs.Client{NC: s.log.JetStream().Conn()}
	err = c.Stream(r.Context(), pod.Spec.NodeName, req, w, func() {
		started = true
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		rc.Flush()
	}, func() { rc.Flush() })
	if started {
		if err != nil && r.Context().Err() == nil {
			s.logger.Warn("log stream ended early", "pod", pod.Namespace+"/"+pod.Name, "container", req.Container, "err", err)
		}
		return nil
	}
	return logError(err)
}

// parseLogOptions reads PodLogOptions from the query, with
// ValidatePodLogOptions' rules and messages.
func parseLogOptions(q url.Values, name string) (logs.Request, error) {
	var req logs.Request
	req.Container = q.Get("container")
	req.Follow, req.Previous, req.Timestamps = queryBool(q, "follow"), queryBool(q, "previous"), queryBool(q, "timestamps")
	var err error
	for _, p := range []struct {
		key string
		dst **int64
	}{{"tailLines", &req.TailLines}, {"limitBytes", &req.LimitBytes}, {"sinceSeconds", &req.SinceSeconds}} {
		if *p.dst, err = queryInt(q, p.key); err != nil {
			return req, err
		}
	}
	if v := q.Get("sinceTime"); v != "" {
		st, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return req, apierrors.NewBadRequest(fmt.Sprintf("sinceTime: %v", err))
		}
		req.SinceTime = &st
	}
	var errs field.ErrorList
	if req.TailLines != nil && *req.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *req.TailLines, "must be greater than or equal to 0"))
	}
	if req.LimitBytes != nil && *req.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *req.LimitBytes, "must be greater than 0"))
	}
	switch {
	case req.SinceSeconds != nil && req.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case req.SinceSeconds != nil && *req.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *req.SinceSeconds, "must be greater than 0"))
	}
	if len(errs) > 0 {
		return req, apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, name, errs)
	}
	return req, nil
}

func queryInt(q url.Values, key string) (*int64, error) {
	v := q.Get(key)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("%s: %v", key, err))
	}
	return &n, nil
}

// logContainer is the container a log request names, defaulted as
// kube-apiserver's LogLocation does.
func logContainer(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, containerNames(pod.Spec.Containers))
		if len(pod.Spec.InitContainers) > 0 {
			msg += fmt.Sprintf(" or one of the init containers: %v", containerNames(pod.Spec.InitContainers))
		}
		return "", apierrors.NewBadRequest(msg)
	}
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			if c.Name == name {
				return name, nil
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

func containerNames(cs []corev1.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// waitingToStart is the kubelet's answer for a container that never ran,
// read from the pod's status (the agent has no file to say more).
func waitingToStart(pod *corev1.Pod, name string, previous bool) error {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for _, cs := range list {
			if cs.Name != name {
				continue
			}
			switch {
			case previous && cs.LastTerminationState.Terminated == nil:
				return apierrors.NewBadRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", name, pod.Name))
			case previous, cs.State.Running != nil, cs.State.Terminated != nil, cs.LastTerminationState.Terminated != nil, cs.State.Waiting == nil:
				return nil
			}
			reason := cs.State.Waiting.Reason
			switch reason {
			case "ErrImagePull":
				reason = "image can't be pulled"
			case "ImagePullBackOff":
				reason = "trying and failing to pull image"
			}
			return apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: %s", name, pod.Name, reason))
		}
	}
	return nil
}

// logError maps the protocol's errors to a Status.
func logError(err error) error {
	var le *logs.Error
	if !errors.As(err, &le) {
		return err
	}
	switch le.Reason {
	case logs.ReasonBadRequest:
		return apierrors.NewBadRequest(le.Message)
	case logs.ReasonNotFound:
		return statusError(http.StatusNotFound, "NotFound", le.Message)
	case logs.ReasonUnavailable:
		return apierrors.NewServiceUnavailable(le.Message)
	case logs.ReasonTimeout:
		return apierrors.NewTimeoutError(le.Message, 1)
	}
	return apierrors.NewInternalError(errors.New(le.Message))
}

// boundPod is the pod of a logs or exec request, read consistently, with
// *container resolved (the only one, or the default container's
// annotation) and a node to ask.
func (s *Server) boundPod(r *http.Request, t target, container *string) (*corev1.Pod, error) {
	pod, err := s.consistentPod(r, t)
	if err != nil {
		return nil, err
	}
	if *container, err = logContainer(pod, *container); err != nil {
		return nil, err
	}
	if pod.Spec.NodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	return pod, nil
}

// consistentPod is the pod t names once the projection has caught up with
// the log, so that a pod just created, bound or started is seen as such.
func (s *Server) consistentPod(r *http.Request, t target) (*corev1.Pod, error) {
	if err := s.consistent(r.Context()); err != nil {
		return nil, err
	}
	o, err := s.current(t)
	if err != nil {
		return nil, err
	}
	var pod corev1.Pod
	if err := json.Unmarshal(o.Raw, &pod); err != nil {
		return nil, err
	}
	return &pod, nil
}
