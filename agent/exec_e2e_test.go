package agent

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/wakehq/wake/gateway"
)

// kubectl exec through a gateway, in a real container, over NATS.
func TestExecThroughGateway(t *testing.T) {
	h := newHarness(t)
	gw := gateway.New(gateway.Config{Log: h.log, Projection: h.view, Tokens: gateway.Tokens{"t": {Name: "tester"}}})
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	rc := &rest.Config{Host: srv.URL, BearerToken: "t"}
	client := kubernetes.NewForConfigOrDie(rc)
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ex"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "main", Args: []string{"sleep"}}},
	}})
	h.waitPod(t, "ex", "running", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	run := func(stdin string, opts corev1.PodExecOptions) (string, error) {
		t.Helper()
		u := client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("ex").
			SubResource("exec").VersionedParams(&opts, scheme.ParameterCodec).URL()
		ex, err := remotecommand.NewWebSocketExecutor(rc, "GET", u.String())
		if err != nil {
			t.Fatal(err)
		}
		// One buffer per stream: client-go copies stdout and stderr on two
		// goroutines, and bytes.Buffer's ReadFrom is not safe to share.
		var out, errOut bytes.Buffer
		so := remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut}
		if opts.Stdin {
			so.Stdin = strings.NewReader(stdin)
		}
		err = ex.StreamWithContext(t.Context(), so)
		return out.String() + errOut.String(), err
	}
	out, err := run("", corev1.PodExecOptions{Command: []string{"/bin/tool", "cat", "/etc/hosts"}, Stdout: true, Stderr: true})
	if err != nil || !strings.Contains(out, "== /etc/hosts") {
		t.Errorf("cat /etc/hosts: %q %v", out, err)
	}
	out, err = run("from stdin", corev1.PodExecOptions{Command: []string{"/bin/tool", "cat", "/dev/stdin"}, Stdin: true, Stdout: true, Stderr: true})
	if err != nil || !strings.Contains(out, "from stdin") {
		t.Errorf("cat /dev/stdin: %q %v", out, err)
	}
	_, err = run("", corev1.PodExecOptions{Command: []string{"/bin/tool", "exit", "3"}, Stdout: true, Stderr: true})
	var ee utilexec.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 3 {
		t.Errorf("exit 3: %v", err)
	}

	// kubectl exec -it: a terminal inside the container, its size from
	// the client's and changed while the process runs.
	u := client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name("ex").SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: []string{"/bin/tool", "tty", "40", "120"}, Stdin: true, Stdout: true, Stderr: true, TTY: true}, scheme.ParameterCodec).URL()
	ex, err := remotecommand.NewWebSocketExecutor(rc, "GET", u.String())
	if err != nil {
		t.Fatal(err)
	}
	sizes := make(termSizes, 1)
	defer close(sizes) // ends client-go's resize loop
	sizes <- remotecommand.TerminalSize{Width: 100, Height: 30}
	term := &watchedOutput{seen: "size 30 100", then: func() { sizes <- remotecommand.TerminalSize{Width: 120, Height: 40} }}
	stdin, stdinW := io.Pipe() // a terminal's input stays open
	defer stdinW.Close()
	err = ex.StreamWithContext(t.Context(), remotecommand.StreamOptions{Stdin: stdin, Stdout: term, Tty: true, TerminalSizeQueue: sizes})
	if got := term.String(); err != nil || !strings.Contains(got, "tty /dev/pts/0\r\n") || !strings.Contains(got, "size 40 120") {
		t.Errorf("exec -t tool tty: %q %v", got, err)
	}
}

// termSizes is a terminal whose size the test sets.
type termSizes chan remotecommand.TerminalSize

func (q termSizes) Next() *remotecommand.TerminalSize {
	sz, ok := <-q
	if !ok {
		return nil
	}
	return &sz
}

// watchedOutput runs then once its content has had seen.
type watchedOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen string
	then func()
}

func (w *watchedOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.then != nil && strings.Contains(w.buf.String(), w.seen) {
		go w.then()
		w.then = nil
	}
	return len(p), nil
}

func (w *watchedOutput) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
