package agent

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"strings"
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
	_, err = run("", corev1.PodExecOptions{Command: []string{"/bin/tool", "true"}, Stdout: true, TTY: true})
	if err == nil || !strings.Contains(err.Error(), "without -t") {
		t.Errorf("tty: %v", err)
	}
}
