package exec

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// ErrClosed is what Next and Send return once the session is over.
var ErrClosed = errors.New("session closed")

// Conn is one side of a session: it numbers what it sends and waits for
// the peer's acks, checks the order of what it receives, acknowledges what
// its consumer took, and sends a keepalive ack every Keepalive.
type Conn struct {
	nc        *nats.Conn
	name      string // of the protocol, in errors: "exec", "port-forward"
	peer      string // where this side publishes
	sub       *nats.Subscription
	in        chan *nats.Msg
	frames    chan Frame
	keepalive time.Duration
	idle      time.Duration

	sendMu sync.Mutex // one sender at a time: sequence order is publish order
	mu     sync.Mutex
	sent   uint64
	acked  uint64
	acks   chan struct{} // closed and replaced on every ack
	recv   uint64        // owned by loop

	consumed, ackSent atomic.Uint64
	lastHeard         atomic.Int64 // unix nanos

	closeOnce sync.Once
	done      chan struct{}
	err       error // why done closed; set before
	loopDone  chan struct{}
	running   atomic.Bool // the loop was started
}

// newConn subscribes this side's inbox; start begins the loop.
func newConn(nc *nats.Conn, name, inbox string, keepalive, idle time.Duration) (*Conn, error) {
	if keepalive <= 0 {
		keepalive = Keepalive
	}
	if idle <= 0 {
		idle = IdleTimeout
	}
	c := &Conn{
		nc: nc, name: name, in: make(chan *nats.Msg, 4*Window+16), frames: make(chan Frame, Window+4),
		keepalive: keepalive, idle: idle, acks: make(chan struct{}), done: make(chan struct{}), loopDone: make(chan struct{}),
	}
	var err error
	if c.sub, err = nc.ChanSubscribe(inbox, c.in); err != nil {
		return nil, err
	}
	return c, nil
}

// start runs the receive loop; recv is the last sequence already taken
// (the client has read the hello).
func (c *Conn) start(peer string, recv uint64) {
	c.peer, c.recv = peer, recv
	c.lastHeard.Store(time.Now().UnixNano())
	c.running.Store(true)
	go c.loop()
}

func (c *Conn) loop() {
	defer close(c.loopDone)
	tick := time.NewTicker(c.keepalive)
	defer tick.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-tick.C:
			c.ack(true)
			if time.Since(time.Unix(0, c.lastHeard.Load())) > c.idle {
				c.fail(&Error{ReasonUnavailable, fmt.Sprintf("the other side of the %s session went silent", c.name)})
				return
			}
		case m := <-c.in:
			c.lastHeard.Store(time.Now().UnixNano())
			if err := c.receive(m); err != nil {
				c.fail(err)
				return
			}
		}
	}
}

func (c *Conn) receive(m *nats.Msg) error {
	if v := m.Header.Get(HeaderAck); v != "" {
		n, _ := strconv.ParseUint(v, 10, 64)
		c.mu.Lock()
		if n > c.acked && n <= c.sent {
			c.acked = n
			close(c.acks)
			c.acks = make(chan struct{})
		}
		c.mu.Unlock()
		return nil
	}
	n, _ := strconv.ParseUint(m.Header.Get(HeaderSeq), 10, 64)
	if n != c.recv+1 {
		return &Error{ReasonInternal, fmt.Sprintf("%s session lost messages (got %d after %d)", c.name, n, c.recv)}
	}
	c.recv = n
	f := Frame{Kind: m.Header.Get(HeaderKind), Stream: m.Header.Get(HeaderStream), Data: m.Data, Reason: m.Header.Get(HeaderError)}
	select {
	case c.frames <- f:
		return nil
	default:
		return &Error{ReasonInternal, fmt.Sprintf("%s peer overran its window", c.name)}
	}
}

// ack tells the peer what the consumer took: when a quarter window is
// pending, or always (a keepalive).
func (c *Conn) ack(always bool) {
	n := c.consumed.Load()
	if !always && n-c.ackSent.Load() < Window/4 {
		return
	}
	c.ackSent.Store(n)
	c.nc.PublishMsg(&nats.Msg{Subject: c.peer, Header: nats.Header{HeaderAck: []string{strconv.FormatUint(n, 10)}}})
}

// Next returns the next frame from the peer. Frames received before the
// session broke are still returned.
func (c *Conn) Next(ctx context.Context) (Frame, error) {
	select {
	case f := <-c.frames:
		c.took()
		return f, nil
	default:
	}
	select {
	case f := <-c.frames:
		c.took()
		return f, nil
	case <-c.done:
		select {
		case f := <-c.frames:
			c.took()
			return f, nil
		default:
		}
		return Frame{}, c.err
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

func (c *Conn) took() {
	c.consumed.Add(1)
	c.ack(false)
}

// Send publishes f, first waiting while Window messages are unacknowledged.
func (c *Conn) Send(ctx context.Context, f Frame) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	for {
		c.mu.Lock()
		full, acks := c.sent-c.acked >= Window, c.acks
		c.mu.Unlock()
		if !full {
			break
		}
		select {
		case <-acks:
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-c.done:
		return c.err
	default:
	}
	c.mu.Lock()
	c.sent++
	seq := c.sent
	c.mu.Unlock()
	h := nats.Header{HeaderSeq: []string{strconv.FormatUint(seq, 10)}, HeaderKind: []string{f.Kind}}
	if f.Stream != "" {
		h.Set(HeaderStream, f.Stream)
	}
	if f.Reason != "" {
		h.Set(HeaderError, f.Reason)
	}
	if f.Kind == KindHello {
		h.Set(HeaderControl, c.sub.Subject)
	}
	return c.nc.PublishMsg(&nats.Msg{Subject: c.peer, Header: h, Data: f.Data})
}

// Write sends p on stream in chunks of at most MaxChunk.
func (c *Conn) Write(ctx context.Context, stream string, p []byte) error {
	for len(p) > 0 {
		n := min(len(p), MaxChunk)
		if err := c.Send(ctx, Frame{Kind: KindData, Stream: stream, Data: p[:n]}); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

func (c *Conn) fail(err error) {
	c.closeOnce.Do(func() {
		c.err = err
		close(c.done)
		c.sub.Unsubscribe()
	})
}

// Done is closed once the session is over on this side.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close ends this side; frames not yet read are dropped.
func (c *Conn) Close() {
	c.fail(ErrClosed)
	if c.running.Load() {
		<-c.loopDone
	}
}
