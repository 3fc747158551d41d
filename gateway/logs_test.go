package gateway_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/logs"
)

// logEnv is a gateway and one node's log server over the same in-process
// NATS, the server reading fixture files in the CRI format.
type logEnv struct {
	*env
	srv   *logs.Server
	dir   string
	alive atomic.Bool
}

func startLogs(t *testing.T) *logEnv {
	e := &logEnv{env: start(t), dir: t.TempDir()}
	e.alive.Store(true)
	e.srv = &logs.Server{
		NC: e.log.JetStream().Conn(), Node: "n1", PodsDir: e.dir,
		Alive: func(string) bool { return e.alive.Load() }, Poll: 10 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func (e *logEnv) pod(t *testing.T, name, node string, containers ...string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "x"})
	}
	p, err := e.client.CoreV1().Pods("default").Create(t.Context(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// rec is one CRI record at t0 plus i seconds.
func rec(i int, stream, tag, content string) string {
	return fmt.Sprintf("%s %s %s %s\n", t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), stream, tag, content)
}

func (e *logEnv) write(t *testing.T, p *corev1.Pod, ctr string, attempt int, suffix string, recs ...string) {
	t.Helper()
	path := logs.Path(e.dir, string(p.UID), ctr, attempt) + suffix
	os.MkdirAll(filepath.Dir(path), 0o700)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(strings.Join(recs, ""))
}

func (e *logEnv) get(t *testing.T, name string, o corev1.PodLogOptions) (string, error) {
	t.Helper()
	body, err := e.client.CoreV1().Pods("default").GetLogs(name, &o).Stream(t.Context())
	if err != nil {
		return "", err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	return string(b), err
}

func ptr[T any](v T) *T { return &v }

func TestPodLogs(t *testing.T) {
	e := startLogs(t)
	p := e.pod(t, "web", "n1", "c")
	e.write(t, p, "c", 1, "", rec(0, "stdout", "F", "old run"))
	e.write(t, p, "c", 2, ".1", rec(1, "stdout", "F", "one"), rec(2, "stderr", "P", "tw"))
	e.write(t, p, "c", 2, "", rec(3, "stderr", "F", "o"), rec(4, "stdout", "F", "three"), rec(5, "stdout", "F", "four"))
	ts := func(i int) string { return t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		name string
		o    corev1.PodLogOptions
		want string
	}{
		{"all", corev1.PodLogOptions{}, "one\ntwo\nthree\nfour\n"},
		{"tail", corev1.PodLogOptions{TailLines: ptr[int64](3)}, "two\nthree\nfour\n"},
		{"tail 0", corev1.PodLogOptions{TailLines: ptr[int64](0)}, ""},
		{"tail more", corev1.PodLogOptions{TailLines: ptr[int64](10)}, "one\ntwo\nthree\nfour\n"},
		{"since", corev1.PodLogOptions{SinceTime: &metav1.Time{Time: t0.Add(4 * time.Second)}}, "three\nfour\n"},
		{"previous", corev1.PodLogOptions{Previous: true}, "old run\n"},
		{"timestamps", corev1.PodLogOptions{TailLines: ptr[int64](1), Timestamps: true}, ts(5) + " four\n"},
		{"limit", corev1.PodLogOptions{LimitBytes: ptr[int64](6)}, "one\ntw"},
		{"container named", corev1.PodLogOptions{Container: "c", TailLines: ptr[int64](1)}, "four\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.get(t, "web", tc.o)
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestPodLogErrors(t *testing.T) {
	e := startLogs(t)
	e.pod(t, "two", "n1", "a", "b")
	e.pod(t, "unbound", "", "c")
	e.pod(t, "fresh", "n1", "c")
	e.pod(t, "elsewhere", "n2", "c")
	for _, tc := range []struct {
		pod  string
		o    corev1.PodLogOptions
		code int32
		msg  string
	}{
		{"two", corev1.PodLogOptions{}, 400, "a container name must be specified for pod two, choose one of: [a b]"},
		{"two", corev1.PodLogOptions{Container: "z"}, 400, "container z is not valid for pod two"},
		{"unbound", corev1.PodLogOptions{}, 400, "pod unbound does not have a host assigned"},
		{"missing", corev1.PodLogOptions{}, 404, `pods "missing" not found`},
		{"fresh", corev1.PodLogOptions{}, 400, `container "c" in pod "fresh" is waiting to start: ContainerCreating`},
		{"fresh", corev1.PodLogOptions{Previous: true}, 400, `previous terminated container "c" in pod "fresh" not found`},
		{"fresh", corev1.PodLogOptions{TailLines: ptr[int64](-1)}, 422, "tailLines: Invalid value: -1: must be greater than or equal to 0"},
		{"fresh", corev1.PodLogOptions{LimitBytes: ptr[int64](0)}, 422, "limitBytes: Invalid value: 0: must be greater than 0"},
		{"elsewhere", corev1.PodLogOptions{}, 503, `no agent of node "n2" answers log requests`},
	} {
		t.Run(tc.pod+" "+tc.msg, func(t *testing.T) {
			_, err := e.get(t, tc.pod, tc.o)
			var se *apierrors.StatusError
			if !errorsAs(err, &se) || se.ErrStatus.Code != tc.code || !strings.Contains(se.ErrStatus.Message, tc.msg) {
				t.Errorf("got %v (%+v), want %d %q", err, se, tc.code, tc.msg)
			}
		})
	}
}

func errorsAs(err error, se **apierrors.StatusError) bool {
	s, ok := err.(*apierrors.StatusError)
	*se = s
	return ok
}

// A line far longer than a message arrives whole, in chunks of at most
// logs.MaxChunk.
func TestPodLogHugeLine(t *testing.T) {
	e := startLogs(t)
	p := e.pod(t, "big", "n1", "c")
	line := strings.Repeat("x", 1<<20)
	e.write(t, p, "c", 1, "", rec(0, "stdout", "F", line), rec(1, "stdout", "F", "end"))
	var chunks, tooBig atomic.Int64
	sub, err := e.log.JetStream().Conn().Subscribe("_INBOX.>", func(m *nats.Msg) {
		if len(m.Data) > 0 && m.Header.Get(logs.HeaderSeq) != "" {
			chunks.Add(1)
		}
		if len(m.Data) > logs.MaxChunk {
			tooBig.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	got, err := e.get(t, "big", corev1.PodLogOptions{})
	if err != nil || got != line+"\nend\n" {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	if n := chunks.Load(); n < (1<<20)/logs.MaxChunk || tooBig.Load() > 0 {
		t.Errorf("%d chunks, %d over %d bytes", n, tooBig.Load(), logs.MaxChunk)
	}
}

// Follow streams what is appended; the agent's side ends when the client
// goes away, and the stream ends when the writer is gone.
func TestPodLogFollow(t *testing.T) {
	e := startLogs(t)
	p := e.pod(t, "f", "n1", "c")
	e.write(t, p, "c", 1, "", rec(0, "stdout", "F", "first"))
	ctx, cancel := context.WithCancel(t.Context())
	body, err := e.client.CoreV1().Pods("default").GetLogs("f", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	readLine := func(want string) {
		t.Helper()
		buf := make([]byte, len(want))
		if _, err := io.ReadFull(body, buf); err != nil || string(buf) != want {
			t.Fatalf("read %q, %v; want %q", buf, err, want)
		}
	}
	readLine("first\n")
	e.write(t, p, "c", 1, "", rec(1, "stdout", "F", "second"))
	readLine("second\n")
	if e.srv.Active() != 1 {
		t.Fatalf("%d active streams, want 1", e.srv.Active())
	}
	cancel()
	body.Close()
	waitFor(t, func() bool { return e.srv.Active() == 0 }, "the agent's stream to end after the client left")

	body, err = e.client.CoreV1().Pods("default").GetLogs("f", &corev1.PodLogOptions{Follow: true, TailLines: ptr[int64](1)}).Stream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	readLine("second\n")
	e.write(t, p, "c", 1, "", rec(2, "stdout", "F", "last"))
	e.alive.Store(false) // the container has ended
	rest, err := io.ReadAll(body)
	if err != nil || string(rest) != "last\n" {
		t.Fatalf("rest %q, %v", rest, err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDiscoveryPodsLog(t *testing.T) {
	e := start(t)
	list, err := e.client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list.APIResources {
		if r.Name == "pods/log" && len(r.Verbs) == 1 && r.Verbs[0] == "get" {
			return
		}
	}
	t.Errorf("pods/log with verb get not in discovery")
}
