package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/wakehq/wake/agent/exec"
)

// fakeExec runs "echo <code>": stdin to stdout, "err" to stderr, exit
// with code; "missing" is refused before starting.
func fakeExec(ctx context.Context, req exec.Request, p exec.Process) (int, error) {
	if req.Command[0] == "missing" {
		return 0, &exec.Error{Reason: exec.ReasonNotFound, Message: "no such container"}
	}
	p.Started()
	if req.Command[0] == "winsize" { // prints N terminal sizes as they come
		n, _ := strconv.Atoi(req.Command[1])
		fmt.Fprintf(p.Stdout, "tty %v stderr %v\n", req.TTY, p.Stderr != nil)
		for range n {
			select {
			case sz := <-p.Resize:
				fmt.Fprintf(p.Stdout, "%dx%d\n", sz.Width, sz.Height)
			case <-ctx.Done():
				return 1, nil
			}
		}
		return 0, nil
	}
	if p.Stderr != nil {
		io.WriteString(p.Stderr, "err\n")
	}
	if p.Stdin != nil && p.Stdout != nil {
		if _, err := io.Copy(p.Stdout, p.Stdin); err != nil {
			return 0, err
		}
	}
	return strconv.Atoi(req.Command[1])
}

func startExec(t *testing.T) (*env, *exec.Server) {
	e := start(t)
	srv := &exec.Server{NC: e.log.JetStream().Conn(), Node: "n1", Exec: fakeExec}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e, srv
}

// runningPod creates a pod bound to n1 whose containers are running.
func runningPod(t *testing.T, e *env, name string, running bool, containers ...string) {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: "n1"}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "x"})
		st := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
		if running {
			st = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: c, State: st})
	}
	created, err := e.client.CoreV1().Pods("default").Create(t.Context(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = p.Status
	if _, err := e.client.CoreV1().Pods("default").UpdateStatus(t.Context(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) exec(t *testing.T, pod string, o corev1.PodExecOptions, stdin io.Reader) (string, string, error) {
	t.Helper()
	u := e.client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name(pod).
		SubResource("exec").VersionedParams(&o, scheme.ParameterCodec).URL()
	ex, err := remotecommand.NewWebSocketExecutor(e.config, "GET", u.String())
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	so := remotecommand.StreamOptions{Stdin: stdin, Stdout: &stdout}
	if o.Stderr {
		so.Stderr = &stderr
	}
	err = ex.StreamWithContext(t.Context(), so)
	return stdout.String(), stderr.String(), err
}

func TestPodExec(t *testing.T) {
	e, srv := startExec(t)
	runningPod(t, e, "one", true, "c")
	out, errOut, err := e.exec(t, "one", corev1.PodExecOptions{Command: []string{"echo", "0"}, Stdin: true, Stdout: true, Stderr: true}, strings.NewReader("hello\n"))
	if err != nil || out != "hello\n" || errOut != "err\n" {
		t.Errorf("exit 0: %q %q %v", out, errOut, err)
	}
	// Larger than the window of both directions.
	big := bytes.Repeat([]byte("0123456789abcdef"), 5*exec.Window*exec.MaxChunk/16)
	out, _, err = e.exec(t, "one", corev1.PodExecOptions{Command: []string{"echo", "3"}, Stdin: true, Stdout: true}, bytes.NewReader(big))
	var ee utilexec.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 3 {
		t.Errorf("exit 3: %v", err)
	}
	if out != string(big) {
		t.Errorf("echoed %d bytes of %d", len(out), len(big))
	}
	waitFor(t, func() bool { return srv.Active() == 0 }, "sessions to end")
}

// sizeQueue hands client-go the sizes of a terminal, then says it is gone.
type sizeQueue chan remotecommand.TerminalSize

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	sz, ok := <-q
	if !ok {
		return nil
	}
	return &sz
}

// With -t, stderr is the terminal's (none of its own) and resizes reach
// the runner in order (WebSocket channel 4).
func TestPodExecTTY(t *testing.T) {
	e, srv := startExec(t)
	runningPod(t, e, "one", true, "c")
	o := corev1.PodExecOptions{Command: []string{"winsize", "2"}, Stdin: true, Stdout: true, Stderr: true, TTY: true}
	u := e.client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("one").
		SubResource("exec").VersionedParams(&o, scheme.ParameterCodec).URL()
	ex, err := remotecommand.NewWebSocketExecutor(e.config, "GET", u.String())
	if err != nil {
		t.Fatal(err)
	}
	q := make(sizeQueue, 2)
	q <- remotecommand.TerminalSize{Width: 100, Height: 30}
	q <- remotecommand.TerminalSize{Width: 120, Height: 40}
	close(q)
	var out bytes.Buffer
	stdin, stdinW := io.Pipe() // open while the session lasts, as a terminal's
	defer stdinW.Close()
	err = ex.StreamWithContext(t.Context(), remotecommand.StreamOptions{Stdin: stdin, Stdout: &out, Tty: true, TerminalSizeQueue: q})
	if err != nil || out.String() != "tty true stderr false\n100x30\n120x40\n" {
		t.Errorf("tty session: %q %v", out.String(), err)
	}
	waitFor(t, func() bool { return srv.Active() == 0 }, "sessions to end")
}

func TestPodExecErrors(t *testing.T) {
	e, _ := startExec(t)
	runningPod(t, e, "one", true, "c")
	runningPod(t, e, "two", true, "a", "b")
	runningPod(t, e, "waiting", false, "c")
	for _, tc := range []struct {
		pod  string
		o    corev1.PodExecOptions
		want string
	}{
		{"one", corev1.PodExecOptions{Stdout: true}, "you must specify at least one command"},
		{"two", corev1.PodExecOptions{Command: []string{"echo", "0"}, Stdout: true}, "choose one of: [a b]"},
		{"one", corev1.PodExecOptions{Command: []string{"echo", "0"}, Stdout: true, Container: "x"}, "container x is not valid for pod one"},
		{"waiting", corev1.PodExecOptions{Command: []string{"echo", "0"}, Stdout: true}, `container not found ("c")`},
		{"one", corev1.PodExecOptions{Command: []string{"missing"}, Stdout: true}, "no such container"},
		{"nope", corev1.PodExecOptions{Command: []string{"echo", "0"}, Stdout: true}, `pods "nope" not found`},
	} {
		_, _, err := e.exec(t, tc.pod, tc.o, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: %v, want %q", tc.pod, tc.o.Command, err, tc.want)
		}
	}
}

func TestDiscoveryPodsExec(t *testing.T) {
	e := start(t)
	rl, err := e.client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rl.APIResources {
		if r.Name == "pods/exec" {
			return
		}
	}
	t.Errorf("pods/exec not in discovery")
}
