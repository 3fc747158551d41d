package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"

	"github.com/wakehq/wake/agent/exec"
	"github.com/wakehq/wake/agent/logs"
)

// Channels of the WebSocket remote command protocol (v4, v5): the first
// byte of every binary message.
const (
	chanStdin  = 0
	chanStdout = 1
	chanStderr = 2
	chanError  = 3
	chanResize = 4
	chanClose  = 255 // v5: [255, channel] half-closes a stream
)

var execUpgrader = websocket.Upgrader{
	Subprotocols: []string{remotecommand.StreamProtocolV5Name, remotecommand.StreamProtocolV4Name},
	// Bearer tokens, not cookies, authenticate: a browser page cannot
	// borrow a session, so any origin may connect.
	CheckOrigin:     func(*http.Request) bool { return true },
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
}

// podExec serves GET and POST pods/{name}/exec: it checks the options and
// names as kube-apiserver and the kubelet do, starts the process through
// the agent of the pod's node over NATS (agent/exec), then upgrades to a
// WebSocket and relays the channels both ways.
func (s *Server) podExec(w http.ResponseWriter, r *http.Request, t target) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed(r, t)
	}
	req, err := parseExecOptions(r)
	if err != nil {
		return err
	}
	pod, err := s.boundPod(r, t, &req.Container)
	if err != nil {
		return err
	}
	if !containerRunning(pod, req.Container) {
		return apierrors.NewBadRequest(fmt.Sprintf("container not found (%q)", req.Container))
	}
	if !websocket.IsWebSocketUpgrade(r) {
		return apierrors.NewBadRequest("exec needs a WebSocket upgrade (v5.channel.k8s.io or v4.channel.k8s.io); SPDY is not served")
	}
	req.Namespace, req.Pod, req.UID = pod.Namespace, pod.Name, string(pod.UID)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	c := &exec.Client{NC: s.log.JetStream().Conn()}
	conn, err := c.Dial(ctx, pod.Spec.NodeName, req)
	if err != nil {
		return execError(err)
	}
	defer conn.Close()
	ws, err := execUpgrader.Upgrade(w, r, nil)
	if err != nil { // Upgrade has answered
		conn.Send(ctx, exec.Frame{Kind: exec.KindCancel})
		return nil
	}
	defer ws.Close()
	inputDone := make(chan struct{})
	go func() {
		defer close(inputDone)
		s.execInput(ctx, cancel, ws, conn)
	}()
	st := s.execOutput(ctx, ws, conn, req.Command)
	if st == nil { // the client left
		conn.Send(context.Background(), exec.Frame{Kind: exec.KindCancel})
		return nil
	}
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	body, _ := json.Marshal(st)
	deadline := time.Now().Add(10 * time.Second)
	ws.SetWriteDeadline(deadline)
	ws.WriteMessage(websocket.BinaryMessage, append([]byte{chanError}, body...))
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
	// Let the client answer the close before the socket goes: closing with
	// its frames unread would reset the connection and could lose the
	// output it has not read yet.
	select {
	case <-inputDone:
	case <-time.After(2 * time.Second):
	}
	return nil
}

// execInput relays stdin, its end (v5) and resizes to the agent until the
// client leaves.
func (s *Server) execInput(ctx context.Context, cancel func(), ws *websocket.Conn, conn *exec.Conn) {
	defer cancel()
	v5 := ws.Subprotocol() == remotecommand.StreamProtocolV5Name
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if len(data) == 0 {
			continue
		}
		switch {
		case data[0] == chanStdin:
			err = conn.Write(ctx, exec.Stdin, data[1:])
		case data[0] == chanResize:
			err = conn.Send(ctx, exec.Frame{Kind: exec.KindResize, Data: data[1:]})
		case data[0] == chanClose && v5 && len(data) > 1 && data[1] == chanStdin:
			err = conn.Send(ctx, exec.Frame{Kind: exec.KindClose, Stream: exec.Stdin})
		}
		if err != nil {
			return
		}
	}
}

// execOutput relays the process's output to the client and returns the
// Status for the error channel, or nil when the client left.
func (s *Server) execOutput(ctx context.Context, ws *websocket.Conn, conn *exec.Conn, cmd []string) *metav1.Status {
	for {
		f, err := conn.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return &metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInternalError, Message: execError(err).Error()}
		}
		switch f.Kind {
		case exec.KindData:
			ch := byte(chanStdout)
			if f.Stream == exec.Stderr {
				ch = chanStderr
			}
			ws.SetWriteDeadline(time.Now().Add(s.timeout))
			if ws.WriteMessage(websocket.BinaryMessage, append([]byte{ch}, f.Data...)) != nil {
				return nil
			}
		case exec.KindExit:
			return exitStatus(f, cmd)
		case exec.KindError:
			return &metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReason(f.Reason), Message: string(f.Data)}
		}
	}
}

// exitStatus is the kubelet's Status for an exit code.
func exitStatus(f exec.Frame, cmd []string) *metav1.Status {
	code, err := exec.ExitCode(f)
	switch {
	case err != nil:
		return &metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInternalError, Message: "unreadable exit code from the node"}
	case code == 0:
		return &metav1.Status{Status: metav1.StatusSuccess}
	}
	return &metav1.Status{
		Status:  metav1.StatusFailure,
		Reason:  remotecommand.NonZeroExitCodeReason,
		Message: fmt.Sprintf("command terminated with non-zero exit code: error executing command [%s], exit code %d", strings.Join(cmd, " "), code),
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: remotecommand.ExitCodeCauseType, Message: strconv.Itoa(code)}}},
	}
}

// parseExecOptions reads PodExecOptions from the query.
func parseExecOptions(r *http.Request) (exec.Request, error) {
	q := r.URL.Query()
	req := exec.Request{
		Container: q.Get("container"), Command: q["command"],
		Stdin: queryBool(q, "stdin"), Stdout: queryBool(q, "stdout"), Stderr: queryBool(q, "stderr"), TTY: queryBool(q, "tty"),
	}
	switch {
	case len(req.Command) == 0:
		return req, apierrors.NewBadRequest("you must specify at least one command for the container")
	case !req.Stdin && !req.Stdout && !req.Stderr:
		return req, apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	return req, nil
}

// containerRunning says whether the pod's status shows the container
// running, as the kubelet needs it to exec.
func containerRunning(pod *corev1.Pod, name string) bool {
	for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for _, cs := range list {
			if cs.Name == name {
				return cs.State.Running != nil
			}
		}
	}
	return false
}

// execError maps the protocol's errors to a Status.
func execError(err error) error {
	var e *exec.Error
	if !errors.As(err, &e) {
		return err
	}
	return logError(&logs.Error{Reason: e.Reason, Message: e.Message}) // the same reasons
}
