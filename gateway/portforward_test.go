package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	pfconst "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"

	"github.com/wakehq/wake/agent/exec"
	agentpf "github.com/wakehq/wake/agent/portforward"
)

// Ports of the fake node's pods (any pod): echo copies what it reads back
// and half-closes at its end; hold reads and never answers.
const (
	portEcho   = 7000
	portHold   = 7001
	portNobody = 7999
)

// pfEnv is a gateway with a fake agent on node n1 whose Dialer reaches the
// test's own servers.
type pfEnv struct {
	*env
	agent *agentpf.Server
	held  chan chan struct{} // per connection to portHold: closed when the pod's end sees its end
}

func startPortForward(t *testing.T) *pfEnv {
	t.Helper()
	e := &pfEnv{env: start(t), held: make(chan chan struct{}, 16)}
	hold := func(c net.Conn) {
		ended := make(chan struct{})
		defer close(ended)
		e.held <- ended
		io.Copy(io.Discard, c)
	}
	servers := map[int]string{portEcho: serve(t, echo), portHold: serve(t, hold)}
	e.agent = &agentpf.Server{NC: e.log.JetStream().Conn(), Node: "n1", Dial: func(ctx context.Context, req agentpf.Request) (net.Conn, error) {
		if req.UID == "" {
			return nil, &exec.Error{Reason: exec.ReasonBadRequest, Message: "no uid"}
		}
		addr, ok := servers[req.Port]
		if !ok {
			return nil, fmt.Errorf("dial tcp 127.0.0.1:%d: connect: connection refused", req.Port)
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.agent.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

// serve runs handle for every connection to a new local listener.
func serve(t *testing.T, handle func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
	return ln.Addr().String()
}

func echo(c net.Conn) {
	io.Copy(c, c)
	c.(*net.TCPConn).CloseWrite()
}

// forwardPod creates a pod bound to node in phase.
func forwardPod(t *testing.T, e *env, name, node string, phase corev1.PodPhase) {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node,
		Containers: []corev1.Container{{Name: "a", Image: "x"}, {Name: "b", Image: "x"}}}}
	created, err := e.client.CoreV1().Pods("default").Create(t.Context(), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = phase
	if _, err := e.client.CoreV1().Pods("default").UpdateStatus(t.Context(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) portForwardURL(pod string) *url.URL {
	return e.client.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name(pod).SubResource("portforward").URL()
}

// forwarding is client-go's port-forwarder (kubectl's) running in the
// test: local ports, what it printed, and how it ended.
type forwarding struct {
	local  int
	errOut *lockedBuffer
	done   chan error
	stop   chan struct{}
}

// forward starts forwarding a local port to remote over the WebSocket
// tunnel (kubectl's first choice) or plain SPDY (its fallback).
func (e *env) forward(t *testing.T, pod string, tunnel bool, remote int) *forwarding {
	t.Helper()
	u := e.portForwardURL(pod)
	var dialer streamhttp.Dialer
	if tunnel {
		d, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, e.config)
		if err != nil {
			t.Fatal(err)
		}
		dialer = d
	} else {
		transport, upgrader, err := spdy.RoundTripperFor(e.config)
		if err != nil {
			t.Fatal(err)
		}
		dialer = spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, "POST", u)
	}
	f := &forwarding{errOut: &lockedBuffer{}, done: make(chan error, 1), stop: make(chan struct{})}
	ready := make(chan struct{})
	fw, err := portforward.NewOnAddressesForStreaming(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(remote)}, f.stop, ready, io.Discard, f.errOut)
	if err != nil {
		t.Fatal(err)
	}
	go func() { f.done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-f.done:
		t.Fatalf("port-forward: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("port-forward not ready in 10s")
	}
	ports, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	f.local = int(ports[0].Local)
	t.Cleanup(f.close)
	return f
}

func (f *forwarding) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
}

func (f *forwarding) dial(t *testing.T) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(f.local))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Bytes go both ways through the gateway and the node, more than the
// session's window each way, and a half-close reaches the pod's server,
// which still answers: over plain SPDY and over the WebSocket tunnel.
func TestPortForwardEcho(t *testing.T) {
	e := startPortForward(t)
	forwardPod(t, e.env, "web", "n1", corev1.PodRunning)
	for _, tunnel := range []bool{false, true} {
		t.Run(fmt.Sprintf("tunnel=%v", tunnel), func(t *testing.T) {
			f := e.forward(t, "web", tunnel, portEcho)
			big := bytes.Repeat([]byte("0123456789abcdef"), 3*exec.Window*exec.MaxChunk/16)
			var wg sync.WaitGroup
			for i := range 3 { // concurrent connections, one session each
				wg.Go(func() {
					c := f.dial(t)
					want := append([]byte(fmt.Sprintf("conn %d:", i)), big...)
					go func() { c.Write(want); c.CloseWrite() }()
					c.SetReadDeadline(time.Now().Add(30 * time.Second))
					got, err := io.ReadAll(c)
					if err != nil || !bytes.Equal(got, want) {
						t.Errorf("conn %d: echoed %d bytes of %d: %v", i, len(got), len(want), err)
					}
				})
			}
			wg.Wait()
			waitFor(t, func() bool { return e.agent.Active() == 0 }, "the node's sessions to end")
			if s := f.errOut.String(); s != "" {
				t.Errorf("errors reported: %s", s)
			}
			f.close()
			if err := <-f.done; err != nil {
				t.Errorf("port-forward ended with %v", err)
			}
		})
	}
}

// A port nobody listens on: the client hears the kubelet's error at once
// on the error stream, and kubectl gives up the port-forward.
func TestPortForwardRefusedPort(t *testing.T) {
	e := startPortForward(t)
	forwardPod(t, e.env, "web", "n1", corev1.PodRunning)
	msg := e.forwardError(t, "web", portNobody)
	want := fmt.Sprintf("error forwarding port %d to pod ", portNobody)
	if !strings.Contains(msg, want) || !strings.Contains(msg, "connection refused") {
		t.Errorf("error stream: %q, want %q and the dial's error", msg, want)
	}
	f := e.forward(t, "web", true, portNobody)
	c := f.dial(t)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := io.ReadAll(c); len(b) != 0 || err != nil {
		t.Errorf("read %q, %v: want EOF", b, err)
	}
	select {
	case err := <-f.done:
		if err == nil {
			t.Error("port-forward ended without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("port-forward still running 10s after its connection failed")
	}
}

// A node without an agent: a clear error, not a hang.
func TestPortForwardNodeGone(t *testing.T) {
	e := startPortForward(t)
	forwardPod(t, e.env, "lost", "n2", corev1.PodRunning)
	if msg := e.forwardError(t, "lost", portEcho); !strings.Contains(msg, `no agent of node "n2" answers port-forward requests`) {
		t.Errorf("error stream: %q", msg)
	}
}

// forwardError opens one forwarded connection over plain SPDY, as kubectl
// does, and returns what the error stream says.
func (e *env) forwardError(t *testing.T, pod string, port int) string {
	t.Helper()
	conn := e.spdyConn(t, pod)
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(port))
	h.Set(corev1.PortForwardRequestIDHeader, "1")
	errs, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	errs.Close()
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	if _, err := conn.CreateStream(h); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(errs); got <- b }()
	select {
	case b := <-got:
		return string(b)
	case <-time.After(10 * time.Second):
		t.Fatal("no end of the error stream in 10s")
	}
	return ""
}

func (e *env) spdyConn(t *testing.T, pod string) streamhttp.Connection {
	t.Helper()
	transport, upgrader, err := spdy.RoundTripperFor(e.config)
	if err != nil {
		t.Fatal(err)
	}
	conn, proto, err := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, "POST", e.portForwardURL(pod)).Dial(pfconst.PortForwardV1Name)
	if err != nil || proto != pfconst.PortForwardV1Name {
		t.Fatalf("upgrade: %q %v", proto, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// When the client goes away, the node closes the pod's connection.
func TestPortForwardClientGoesAway(t *testing.T) {
	e := startPortForward(t)
	forwardPod(t, e.env, "web", "n1", corev1.PodRunning)
	f := e.forward(t, "web", true, portHold)
	f.dial(t).Write([]byte("hello"))
	var ended chan struct{}
	select {
	case ended = <-e.held:
	case <-time.After(10 * time.Second):
		t.Fatal("the pod's server got no connection")
	}
	f.close()
	<-f.done
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the pod's connection still open 10s after the client left")
	}
	waitFor(t, func() bool { return e.agent.Active() == 0 }, "the node's sessions to end")
}

// Requests that cannot become a port-forward get a Status with a clear
// message, before any upgrade.
func TestPortForwardBadRequests(t *testing.T) {
	e := startPortForward(t)
	forwardPod(t, e.env, "web", "n1", corev1.PodRunning)
	forwardPod(t, e.env, "pending", "n1", corev1.PodPending)
	spdyHeaders := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}, "X-Stream-Protocol-Version": {pfconst.PortForwardV1Name}}
	for _, tc := range []struct {
		name, method, pod, query string
		header                   http.Header
		code                     int
		want                     string
	}{
		{"no upgrade", "POST", "web", "", nil, 400, "port-forward needs an upgrade to SPDY/3.1"},
		{"wrong method", "PUT", "web", "", spdyHeaders, 405, "PUT"},
		{"bad port", "POST", "web", "ports=http", spdyHeaders, 400, `invalid port "http": want a number in 1..65535`},
		{"port 0", "GET", "web", "ports=0", spdyHeaders, 400, `invalid port "0"`},
		{"port too big", "GET", "web", "ports=80&ports=65536", spdyHeaders, 400, `invalid port "65536"`},
		{"no protocol", "POST", "web", "", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}}, 400, "X-Stream-Protocol-Version: portforward.k8s.io"},
		{"WebSocket without the tunnel", "GET", "web", "", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
			"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {"v5.channel.k8s.io"}}, 400, "subprotocol SPDY/3.1+portforward.k8s.io"},
		{"pod not running", "POST", "pending", "", spdyHeaders, 400, "unable to forward port because pod is not running. Current status=Pending"},
		{"no such pod", "POST", "nope", "", spdyHeaders, 404, `pods "nope" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := e.portForwardURL(tc.pod)
			u.RawQuery = tc.query
			req, _ := http.NewRequestWithContext(t.Context(), tc.method, u.String(), nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			req.Header.Set("Authorization", "Bearer "+token)
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var st metav1.Status
			body, _ := io.ReadAll(resp.Body)
			json.Unmarshal(body, &st)
			if resp.StatusCode != tc.code || int(st.Code) != tc.code || !strings.Contains(st.Message, tc.want) {
				t.Errorf("%d %s, want %d with %q", resp.StatusCode, body, tc.code, tc.want)
			}
		})
	}
}

// Streams whose headers are not kubectl's are refused one by one; the
// connection goes on serving good ones.
func TestPortForwardBadStreams(t *testing.T) {
	e := startPortForward(t)
	forwardPod(t, e.env, "web", "n1", corev1.PodRunning)
	conn := e.spdyConn(t, "web")
	header := func(kind, port, id string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{corev1.StreamType: kind, corev1.PortHeader: port, corev1.PortForwardRequestIDHeader: id} {
			if v != "" {
				h.Set(k, v)
			}
		}
		return h
	}
	for _, h := range []http.Header{
		header("data", "http", "1"), header("data", "0", "1"), header("data", "65536", "1"), header("data", "+80", "1"),
		header("data", "", "1"), header("data", "7000", ""), header("", "7000", "1"), header("resize", "7000", "1"),
	} {
		if s, err := conn.CreateStream(h); err == nil {
			// A reset arrives as the stream's end.
			s.Write([]byte("x"))
			if b, _ := io.ReadAll(s); len(b) != 0 {
				t.Errorf("stream %v was served: %q", h, b)
			}
		}
	}
	errs, err := conn.CreateStream(header("error", "7000", "9"))
	if err != nil {
		t.Fatal(err)
	}
	errs.Close()
	data, err := conn.CreateStream(header("data", "7000", "9"))
	if err != nil {
		t.Fatal(err)
	}
	data.Write([]byte("still serving"))
	data.Close()
	if b, err := io.ReadAll(data); string(b) != "still serving" {
		t.Errorf("echoed %q, %v", b, err)
	}
	if b, _ := io.ReadAll(errs); len(b) != 0 {
		t.Errorf("error stream: %q", b)
	}
}
