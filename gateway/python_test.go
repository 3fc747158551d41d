package gateway_test

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pythonWithKubernetes is a python3 that imports the official Kubernetes
// client (Debian: apt-get install python3-kubernetes, for /usr/bin/python3),
// or "" when there is none.
func pythonWithKubernetes() string {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import kubernetes").Run() == nil {
			return py
		}
	}
	return ""
}

// The Python client asks for watches with watch=True, which wake once
// answered with a List: every Python watch, informer and operator saw
// nothing. A real watch.Watch().stream against the gateway sees the
// existing ConfigMap ADDED, then one created while it watches.
func TestPythonClientWatch(t *testing.T) {
	py := pythonWithKubernetes()
	if py == "" {
		t.Skip("no python3 with the kubernetes module (apt-get install python3-kubernetes)")
	}
	e := start(t)
	cms := e.client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "py-seen"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "testdata/python_watch.py", e.url, token, "py-live")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if sc.Text() == "ADDED py-seen" {
			if _, err := cms.Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "py-live"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python watch: %v\nevents: %q\n%s", err, seen, stderr.String())
	}
	got := strings.Join(seen, "\n")
	if !strings.Contains(got, "ADDED py-seen") || !strings.Contains(got, "ADDED py-live") {
		t.Fatalf("python watch saw %q, want py-seen and py-live ADDED\n%s", seen, stderr.String())
	}
}
