package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wakehq/wake/agent/runtime"
)

// probeResult is what the probes of one container concluded so far.
type probeResult struct {
	ready bool // the readiness probe's verdict (true without one)
}

// probeState reports whether container id is ready; call with w.mu held.
func (w *podWorker) probeState(id string, c *corev1.Container) (ready bool, known bool) {
	if c.ReadinessProbe == nil {
		return true, true
	}
	r, ok := w.probes[id]
	if !ok {
		return false, false
	}
	return r.ready, true
}

// startProbes runs the readiness and liveness probes of container id
// until it exits or the worker stops them.
func (w *podWorker) startProbes(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string) {
	if c.ReadinessProbe == nil && c.LivenessProbe == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	w.probing[id] = cancel
	w.mu.Lock()
	w.probes[id] = &probeResult{}
	w.mu.Unlock()
	ip := w.ip
	for _, p := range []struct {
		probe    *corev1.Probe
		liveness bool
	}{{c.ReadinessProbe, false}, {c.LivenessProbe, true}} {
		if p.probe == nil {
			continue
		}
		w.a.wg.Add(1)
		go func() {
			defer w.a.wg.Done()
			w.probeLoop(ctx, c.DeepCopy(), id, ip, p.probe.DeepCopy(), p.liveness)
		}()
	}
}

// stopProbes stops the probes of container id ("" = all).
func (w *podWorker) stopProbes(id string) {
	for k, cancel := range w.probing {
		if id == "" || k == id {
			cancel()
			delete(w.probing, k)
		}
	}
	w.mu.Lock()
	for k := range w.probes {
		if id == "" || k == id {
			delete(w.probes, k)
		}
	}
	w.mu.Unlock()
}

func (w *podWorker) probeLoop(ctx context.Context, c *corev1.Container, id, ip string, p *corev1.Probe, liveness bool) {
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	if p.PeriodSeconds == 0 {
		period = 10 * time.Second
	}
	success, failure := max(p.SuccessThreshold, 1), max(p.FailureThreshold, 1)
	if p.FailureThreshold == 0 {
		failure = 3
	}
	if !sleep(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
		return
	}
	var okRun, failRun int32
	for {
		err := w.probeOnce(ctx, c, id, ip, p)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			okRun, failRun = okRun+1, 0
		} else {
			okRun, failRun = 0, failRun+1
		}
		switch {
		case liveness && failRun >= failure:
			w.a.log.Info("liveness probe failed; killing the container", "container", id, "err", err)
			w.a.rt.Kill(ctx, id, syscall.SIGKILL)
			return
		case !liveness && (okRun == success || failRun == failure):
			w.setReady(id, err == nil)
		}
		// A readiness probe that has not succeeded yet retries quickly, so
		// that a starting server is Ready soon after it listens.
		wait := period
		if !liveness && okRun < success && p.InitialDelaySeconds == 0 {
			wait = min(period, 100*time.Millisecond)
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

func (w *podWorker) setReady(id string, ready bool) {
	w.mu.Lock()
	r, ok := w.probes[id]
	changed := ok && r.ready != ready
	if ok {
		r.ready = ready
	}
	w.mu.Unlock()
	if changed {
		w.wake()
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// probeOnce runs one probe: nil means success.
func (w *podWorker) probeOnce(ctx context.Context, c *corev1.Container, id, ip string, p *corev1.Probe) error {
	timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.Exec != nil:
		ex, ok := w.a.rt.(runtime.Execer)
		if !ok {
			return fmt.Errorf("the runtime cannot exec")
		}
		code, out, err := ex.Exec(ctx, id, p.Exec.Command)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", p.Exec.Command, code, strings.TrimSpace(string(out)))
		}
		return nil
	case p.HTTPGet != nil:
		return httpProbe(ctx, c, ip, p.HTTPGet)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return err
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = ip
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case p.GRPC != nil:
		return fmt.Errorf("grpc probes are not supported yet")
	}
	return fmt.Errorf("probe has no handler")
}

var probeTransport = &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the kubelet does not verify either
	DisableKeepAlives: true,
	Proxy:             nil,
}

func httpProbe(ctx context.Context, c *corev1.Container, ip string, h *corev1.HTTPGetAction) error {
	port, err := resolvePort(h.Port, c)
	if err != nil {
		return err
	}
	host := h.Host
	if host == "" {
		host = ip
	}
	scheme := strings.ToLower(string(h.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	u, err = u.Parse(path)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	for _, hd := range h.HTTPHeaders {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value
			continue
		}
		req.Header.Add(hd.Name, hd.Value)
	}
	client := &http.Client{Transport: probeTransport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

// resolvePort turns a number or a named container port into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("no port named %q in container %s", p.StrVal, c.Name)
}
