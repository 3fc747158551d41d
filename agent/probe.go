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
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wakehq/wake/agent/runtime"
)

// probeResult is what the probes of one container concluded so far.
type probeResult struct {
	ready   bool // the readiness probe's verdict (true without one)
	started bool // the startup probe succeeded (true without one)
}

// probeState reports whether container id is ready; call with w.mu held.
// A container is never ready before its startup probe succeeded.
func (w *podWorker) probeState(id string, c *corev1.Container) (ready bool, known bool) {
	if !w.startedState(id, c) {
		return false, true
	}
	if c.ReadinessProbe == nil {
		return true, true
	}
	r, ok := w.probes[id]
	if !ok {
		return false, false
	}
	return r.ready, true
}

// startedState reports whether container id has started: its startup
// probe succeeded, or it has none; call with w.mu held.
func (w *podWorker) startedState(id string, c *corev1.Container) bool {
	if c.StartupProbe == nil {
		return true
	}
	r, ok := w.probes[id]
	return ok && r.started
}

// startProbes runs the probes of container id until it exits or the
// worker stops them: the startup probe first, then readiness and
// liveness, as the kubelet does. prev is the container's status as the
// log had it when the worker adopts a running container (nil for a new
// one): a container that had started is not probed for startup again.
func (w *podWorker) startProbes(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, prev *corev1.ContainerStatus) {
	if c.ReadinessProbe == nil && c.LivenessProbe == nil && c.StartupProbe == nil {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	w.probing[id] = probeRun{ctx, cancel}
	started := c.StartupProbe == nil || prev != nil && prev.Started != nil && *prev.Started
	w.mu.Lock()
	w.probes[id] = &probeResult{started: started}
	w.mu.Unlock()
	pod, c = pod.DeepCopy(), c.DeepCopy()
	ip := w.ip
	run := func() {
		for _, p := range []struct {
			probe *corev1.Probe
			kind  probeKind
		}{{c.ReadinessProbe, readiness}, {c.LivenessProbe, liveness}} {
			if p.probe == nil {
				continue
			}
			w.a.wg.Add(1)
			go func() {
				defer w.a.wg.Done()
				w.probeLoop(ctx, pod, c, id, ip, p.probe, p.kind)
			}()
		}
	}
	if started {
		run()
		return
	}
	w.a.wg.Add(1)
	go func() {
		defer w.a.wg.Done()
		if w.probeLoop(ctx, pod, c, id, ip, c.StartupProbe, startup) {
			w.setStarted(id)
			run()
		}
	}()
}

type probeKind int

const (
	readiness probeKind = iota
	liveness
	startup
)

func (k probeKind) String() string { return [...]string{"Readiness", "Liveness", "Startup"}[k] }

// probeRun is the context of a container's probes: a failed probe's
// kill runs under it too, so that stopping the probes stops the kill.
type probeRun struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// stopProbes stops the probes of container id ("" = all), and its kill
// for a failed probe.
func (w *podWorker) stopProbes(id string) {
	for k, run := range w.probing {
		if id == "" || k == id {
			run.cancel()
			delete(w.probing, k)
		}
	}
	w.mu.Lock()
	for k := range w.probes {
		if id == "" || k == id {
			delete(w.probes, k)
		}
	}
	for k := range w.unhealthy {
		if id == "" || k == id {
			delete(w.unhealthy, k)
		}
	}
	w.mu.Unlock()
}

// setUnhealthy records that container id's liveness or startup probe
// failed: the worker stops it within grace (decide's Kill) so that its
// restart policy applies.
func (w *podWorker) setUnhealthy(id string, grace time.Duration) {
	w.mu.Lock()
	if _, probing := w.probes[id]; probing {
		w.unhealthy[id] = grace
	}
	w.mu.Unlock()
	w.wake()
}

// kill stops container id, whose probe failed, off the worker's
// goroutine (preStop hook, SIGTERM, grace, SIGKILL), under its probes'
// context; its exit wakes the worker, which restarts it per policy.
func (w *podWorker) kill(ctx context.Context, pod *corev1.Pod, id string, grace time.Duration) {
	w.mu.Lock()
	delete(w.unhealthy, id) // once
	w.mu.Unlock()
	if run, ok := w.probing[id]; ok {
		ctx = run.ctx
	}
	ip := w.ip
	w.a.wg.Add(1)
	go func() {
		defer w.a.wg.Done()
		w.stopContainer(ctx, pod, ip, id, grace)
	}()
}

// probeLoop probes until ctx ends. A startup probe returns true once it
// succeeded; a startup or liveness probe that fails failureThreshold
// times in a row marks the container unhealthy, for the worker to stop
// it (preStop hook, SIGTERM, the grace period, SIGKILL) so that its
// restart policy applies, and returns false.
func (w *podWorker) probeLoop(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id, ip string, p *corev1.Probe, kind probeKind) bool {
	period := time.Duration(max(p.PeriodSeconds, 1)) * time.Second
	if p.PeriodSeconds == 0 {
		period = 10 * time.Second
	}
	success, failure := max(p.SuccessThreshold, 1), max(p.FailureThreshold, 1)
	if p.FailureThreshold == 0 {
		failure = 3
	}
	if kind != readiness {
		success = 1 // the API requires it of liveness and startup probes
	}
	if !sleep(ctx, time.Duration(p.InitialDelaySeconds)*time.Second) {
		return false
	}
	var okRun, failRun int32
	var nextFailure time.Time // a startup probe's failures count once a period
	for {
		err := w.probeOnce(ctx, c, id, ip, p)
		if ctx.Err() != nil {
			return false
		}
		switch now := time.Now(); {
		case err == nil:
			okRun, failRun = okRun+1, 0
		case kind != startup || !now.Before(nextFailure):
			okRun, failRun = 0, failRun+1
			nextFailure = now.Add(period)
		}
		switch {
		case kind == startup && okRun >= success:
			return true
		case kind != readiness && failRun >= failure:
			w.a.log.Info(strings.ToLower(kind.String())+" probe failed; stopping the container", "container", id, "err", err)
			w.recordEvent(ctx, pod, corev1.EventTypeWarning, "Unhealthy", fmt.Sprintf("%s probe failed: %v", kind, err))
			w.setUnhealthy(id, probeGrace(pod, p))
			return false
		case kind == readiness && (okRun == success || failRun == failure):
			w.setReady(id, err == nil)
		}
		// A readiness or startup probe that has not succeeded yet retries
		// quickly, so that a starting server is Ready soon after it
		// listens (a startup probe's failures still count at its period).
		wait := period
		if kind != liveness && okRun < success && p.InitialDelaySeconds == 0 {
			wait = min(period, 100*time.Millisecond)
		}
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// probeGrace is the grace period of a container killed by a failed
// probe: the probe's terminationGracePeriodSeconds, else the pod's.
func probeGrace(pod *corev1.Pod, p *corev1.Probe) time.Duration {
	if p.TerminationGracePeriodSeconds != nil {
		return time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
	}
	return podGrace(pod)
}

// podGrace is the pod's terminationGracePeriodSeconds (default 30s).
func podGrace(pod *corev1.Pod) time.Duration {
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

func (w *podWorker) setStarted(id string) {
	w.mu.Lock()
	if r, ok := w.probes[id]; ok {
		r.started = true
	}
	w.mu.Unlock()
	w.wake()
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
		g := &grpcAction{port: p.GRPC.Port}
		if p.GRPC.Service != nil {
			g.service = *p.GRPC.Service
		}
		return grpcProbe(ctx, ip, g)
	}
	return fmt.Errorf("probe has no handler")
}

var probeTransport = &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the kubelet does not verify either
	DisableKeepAlives: true,
	Proxy:             nil,
}

func httpProbe(ctx context.Context, c *corev1.Container, ip string, h *corev1.HTTPGetAction) error {
	code, err := httpGet(ctx, c, ip, h)
	if err != nil {
		return err
	}
	if code < 200 || code >= 400 {
		return fmt.Errorf("HTTP probe failed with statuscode: %d", code)
	}
	return nil
}

// httpGet does the GET of a probe or hook and returns the status code.
func httpGet(ctx context.Context, c *corev1.Container, ip string, h *corev1.HTTPGetAction) (int, error) {
	port, err := resolvePort(h.Port, c)
	if err != nil {
		return 0, err
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
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
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
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
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
