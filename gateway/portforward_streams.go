package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/streaming/pkg/httpstream"

	"github.com/wakehq/wake/agent/portforward"
)

// Limits of one port-forward connection.
const (
	// maxForwardedConns is how many forwarded connections (stream pairs,
	// complete or waiting for their second stream) one client connection
	// may hold; a stream beyond is reset.
	maxForwardedConns = 128
	// streamPairTimeout is how long the first stream of a pair waits for
	// the second (the kubelet's default).
	streamPairTimeout = 30 * time.Second
)

// forwarder serves the streams of one port-forward connection: kubectl
// opens an "error" and a "data" stream per forwarded connection, tied by
// their requestID header, and each complete pair is relayed to the pod.
type forwarder struct {
	s      *Server
	pod    *corev1.Pod
	ctx    context.Context // ends with the connection
	cancel context.CancelFunc
	in     chan newStream
	slots  chan struct{} // one per pair held
	wg     sync.WaitGroup
}

// newStream is a stream accepted by the connection, headers checked.
type newStream struct {
	stream  httpstream.Stream
	kind    string // corev1.StreamTypeData or corev1.StreamTypeError
	port    int
	id      string
	replied <-chan struct{} // closed once the client has the stream's reply
}

// streamPair is one forwarded connection's streams.
type streamPair struct {
	port     int
	data     httpstream.Stream
	errs     httpstream.Stream
	replied  []<-chan struct{}
	deadline time.Time
}

func newForwarder(ctx context.Context, s *Server, pod *corev1.Pod) *forwarder {
	ctx, cancel := context.WithCancel(ctx)
	return &forwarder{s: s, pod: pod, ctx: ctx, cancel: cancel, in: make(chan newStream), slots: make(chan struct{}, maxForwardedConns)}
}

// accept is the connection's stream handler, called on the connection's
// own goroutines: it checks a new stream's headers (an error rejects the
// stream) and hands it to run.
func (f *forwarder) accept(st httpstream.Stream, replied <-chan struct{}) error {
	h := st.Headers()
	ns := newStream{stream: st, kind: h.Get(corev1.StreamType), id: h.Get(corev1.PortForwardRequestIDHeader), replied: replied}
	switch ns.kind {
	case corev1.StreamTypeData, corev1.StreamTypeError:
	case "":
		return fmt.Errorf("missing %s header", corev1.StreamType)
	default:
		return fmt.Errorf("invalid stream type %q: want %q or %q", ns.kind, corev1.StreamTypeData, corev1.StreamTypeError)
	}
	var err error
	if ns.port, err = parsePort(h.Get(corev1.PortHeader)); err != nil {
		return err
	}
	if ns.id == "" {
		return fmt.Errorf("missing %s header", corev1.PortForwardRequestIDHeader)
	}
	select {
	case f.in <- ns:
		return nil
	case <-f.ctx.Done():
		return errors.New("the port-forward connection is closing")
	}
}

// run pairs the connection's streams and forwards each pair until the
// client goes away (or the gateway stops), then ends every forwarded
// connection and waits for them.
func (f *forwarder) run(conn httpstream.Connection) {
	pairs := map[string]*streamPair{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-f.ctx.Done():
			break loop
		case <-conn.CloseChan():
			break loop
		case ns := <-f.in:
			f.add(conn, pairs, ns)
		case now := <-tick.C:
			for id, p := range pairs {
				if now.After(p.deadline) {
					delete(pairs, id)
					f.wg.Go(func() { f.abandon(p, "timed out waiting for streams") })
				}
			}
		}
	}
	f.cancel()
	for _, p := range pairs {
		f.wg.Go(func() { f.abandon(p, "") })
	}
	f.wg.Wait()
}

// add puts a stream into its pair and starts forwarding a complete one.
func (f *forwarder) add(conn httpstream.Connection, pairs map[string]*streamPair, ns newStream) {
	p := pairs[ns.id]
	if p == nil {
		select {
		case f.slots <- struct{}{}:
		default:
			f.s.logger.Debug("port-forward stream refused: too many forwarded connections", "pod", f.pod.Namespace+"/"+f.pod.Name, "limit", maxForwardedConns)
			f.wg.Go(func() { <-ns.replied; ns.stream.Reset() })
			return
		}
		p = &streamPair{port: ns.port, deadline: time.Now().Add(streamPairTimeout)}
		pairs[ns.id] = p
	}
	slot := &p.data
	if ns.kind == corev1.StreamTypeError {
		slot = &p.errs
	}
	if *slot != nil || ns.port != p.port { // a second stream of a kind, or another port: not kubectl
		f.wg.Go(func() { <-ns.replied; ns.stream.Reset() })
		return
	}
	*slot = ns.stream
	p.replied = append(p.replied, ns.replied)
	if p.data != nil && p.errs != nil {
		delete(pairs, ns.id)
		f.wg.Go(func() {
			defer func() { <-f.slots }()
			defer conn.RemoveStreams(p.data, p.errs)
			f.forward(p)
		})
	}
}

// forward relays one forwarded connection through the pod's agent; what
// fails on the way reaches the client on the error stream, in the
// kubelet's words.
func (f *forwarder) forward(p *streamPair) {
	for _, r := range p.replied { // nothing is written before the replies
		<-r
	}
	defer p.errs.Close() // kubectl reads the error stream to its end
	c := portforward.Client{NC: f.s.log.JetStream().Conn()}
	req := portforward.Request{Namespace: f.pod.Namespace, Pod: f.pod.Name, UID: string(f.pod.UID), Port: p.port}
	conn, err := c.Dial(f.ctx, f.pod.Spec.NodeName, req)
	if err != nil {
		p.data.Reset()
		f.report(p, err)
		return
	}
	defer conn.Close()
	f.report(p, portforward.Pipe(f.ctx, conn, clientStream{p.data}))
}

// report writes a failure the client should hear of on the error stream:
// the agent's refusal or error, or a session that broke. Nothing is said
// when the client ended the connection, or when the client's connection
// is going away.
func (f *forwarder) report(p *streamPair, err error) {
	var e *portforward.Error
	if !errors.As(err, &e) || f.ctx.Err() != nil {
		return
	}
	msg := fmt.Sprintf("error forwarding port %d to pod %s, uid : %s", p.port, f.pod.UID, e.Message)
	f.s.logger.Debug("port-forward failed", "pod", f.pod.Namespace+"/"+f.pod.Name, "err", msg)
	io.WriteString(p.errs, msg)
}

// abandon ends a pair that never completed, saying why if there is an
// error stream to say it on.
func (f *forwarder) abandon(p *streamPair, why string) {
	defer func() { <-f.slots }()
	for _, r := range p.replied {
		<-r
	}
	if p.errs != nil {
		if why != "" {
			io.WriteString(p.errs, why)
		}
		p.errs.Close()
	}
	if p.data != nil {
		p.data.Reset()
	}
}

// clientStream is the client's data stream as portforward.Pipe's Stream:
// a SPDY stream's Close is the half-close, its Reset the full one.
type clientStream struct{ httpstream.Stream }

func (c clientStream) CloseWrite() error { return c.Stream.Close() }
func (c clientStream) Close() error      { return c.Stream.Reset() }
