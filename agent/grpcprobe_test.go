package agent

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// healthServer is a gRPC health service over cleartext HTTP/2 whose answer
// for the empty service the test sets; other services are NOT_FOUND.
func healthServer(t *testing.T, status *byte) (ip string, port int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg, _ := grpcUnframe(body)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status")
		w.WriteHeader(http.StatusOK)
		if r.URL.Path != "/grpc.health.v1.Health/Check" || len(msg) > 0 && string(msg) != string(healthRequest("ok")) {
			w.Header().Set("Grpc-Status", "5")
			return
		}
		w.Write(grpcFrame([]byte{0x08, *status}))
		w.Header().Set("Grpc-Status", "0")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "127.0.0.1", int32(ln.Addr().(*net.TCPAddr).Port)
}

func TestGRPCProbe(t *testing.T) {
	status := byte(grpcServing)
	ip, port := healthServer(t, &status)
	probe := func(service string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return grpcProbe(ctx, ip, &grpcAction{port: port, service: service})
	}
	if err := probe(""); err != nil {
		t.Errorf("SERVING: %v", err)
	}
	if err := probe("ok"); err != nil {
		t.Errorf("SERVING, named service: %v", err)
	}
	if err := probe("other"); err == nil || !strings.Contains(err.Error(), "grpc-status 5") {
		t.Errorf("unknown service: %v, want grpc-status 5", err)
	}
	status = 2
	if err := probe(""); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("NOT_SERVING: %v", err)
	}
	if err := (func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return grpcProbe(ctx, ip, &grpcAction{port: 1})
	})(); err == nil {
		t.Error("nothing listening: the probe succeeded")
	}
}

func TestHealthStatusDecoding(t *testing.T) {
	for _, tt := range []struct {
		msg  []byte
		want uint64
	}{
		{[]byte{0x08, 0x01}, 1},
		{[]byte{0x08, 0x02}, 2},
		{nil, 0},
		{[]byte{0x12, 0x02, 'h', 'i', 0x08, 0x01}, 1}, // an unknown field first
		{[]byte{0x08}, 0},            // truncated
		{[]byte{0x12, 0x09, 'x'}, 0}, // length past the end
	} {
		if got := healthStatus(tt.msg); got != tt.want {
			t.Errorf("healthStatus(%x) = %d, want %d", tt.msg, got, tt.want)
		}
	}
	if _, err := grpcUnframe([]byte{0, 0, 0, 0, 9, 1}); err == nil {
		t.Error("a truncated frame decoded")
	}
}

// A pod whose gRPC health service answers SERVING becomes Ready; one that
// answers NOT_SERVING never does.
func TestGRPCReadiness(t *testing.T) {
	h := newHarness(t)
	for name, status := range map[string]string{"grpc-ok": "SERVING", "grpc-down": "NOT_SERVING"} {
		h.createPod(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Args: []string{"grpc-health", ":9090", status},
				ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9090}}}}},
		}})
	}
	h.waitPod(t, "grpc-ok", "Ready", func(p *corev1.Pod) bool { return running(p) && ready(p) })
	time.Sleep(2 * time.Second)
	if p, _ := h.pod("grpc-down"); p == nil || !running(p) || ready(p) {
		t.Errorf("the NOT_SERVING pod: running %v, ready %v; want running and not ready", p != nil && running(p), p != nil && ready(p))
	}
}
