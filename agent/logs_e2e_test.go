package agent

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/gateway"
)

// kubectl logs through a gateway, from real containers, over NATS.
func TestLogsThroughGateway(t *testing.T) {
	h := newHarness(t)
	gw := gateway.New(gateway.Config{Log: h.log, Projection: h.view, Tokens: gateway.Tokens{"t": {Name: "tester"}}})
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()
	get := func(ctx context.Context, query string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/namespaces/default/pods/logs/log?"+query, nil)
		req.Header.Set("Authorization", "Bearer t")
		return http.DefaultClient.Do(req)
	}
	read := func(query string) (int, string) {
		t.Helper()
		resp, err := get(t.Context(), query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "logs"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{
			{Name: "crash", Args: []string{"exit", "3"}},
			{Name: "sleep", Args: []string{"sleep"}},
		},
	}})
	h.waitPod(t, "logs", "crash restarted", func(p *corev1.Pod) bool {
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Name == "crash" && cs.RestartCount >= 1 && cs.State.Waiting != nil {
				return true
			}
		}
		return false
	})
	if code, body := read(""); code != 400 || !strings.Contains(body, "choose one of: [crash sleep]") {
		t.Errorf("no container: %d %s", code, body)
	}
	for _, q := range []string{"container=crash", "container=crash&previous=true"} {
		if code, body := read(q); code != 200 || body != "exiting with 3\n" {
			t.Errorf("%s: %d %q", q, code, body)
		}
	}
	code, body := read("container=crash&timestamps=true&tailLines=1")
	ts, rest, _ := strings.Cut(body, " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); code != 200 || err != nil || rest != "exiting with 3\n" {
		t.Errorf("timestamps: %d %q (%v)", code, body, err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	resp, err := get(ctx, "container=sleep&follow=true")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("follow: %v %v", resp, err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "sleeping\n" {
		t.Errorf("follow read %q, %v", line, err)
	}
	cancel()
	resp.Body.Close()
}
