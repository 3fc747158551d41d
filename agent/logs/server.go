package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/agent/internal/natsserve"
)

// Server answers the log requests of one node from its pods directory.
type Server struct {
	NC      *nats.Conn
	Node    string
	PodsDir string // <state>/pods
	// Alive reports whether more may be appended to a log; WriterAlive
	// when nil.
	Alive  func(path string) bool
	Logger *slog.Logger
	Now    func() time.Time
	// Poll is how often follow mode looks for more (default 250ms);
	// Keepalive and IdleTimeout default to the package's.
	Poll, Keepalive, IdleTimeout time.Duration

	active atomic.Int64
}

// Active is the number of requests being served (tests: a cancelled
// follow must end).
func (s *Server) Active() int64 { return s.active.Load() }

// Run answers requests until ctx ends, then waits for the streams it
// started.
func (s *Server) Run(ctx context.Context) error {
	if s.Alive == nil {
		s.Alive = WriterAlive
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Poll <= 0 {
		s.Poll = 250 * time.Millisecond
	}
	if s.Keepalive <= 0 {
		s.Keepalive = Keepalive
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = IdleTimeout
	}
	if err := natsserve.Serve(ctx, s.NC, Subject(s.Node), s.serve); err != nil {
		return fmt.Errorf("logs: subscribe: %w", err)
	}
	return nil
}

var errCancelled = errors.New("cancelled by the client")

// serve streams one log; every outcome ends with an end or error message.
func (s *Server) serve(ctx context.Context, m *nats.Msg) {
	s.active.Add(1)
	defer s.active.Add(-1)
	st := &sender{nc: s.NC, reply: m.Reply, window: Window, idle: s.IdleTimeout, ctx: ctx}
	var req Request
	if err := json.Unmarshal(m.Data, &req); err != nil || req.V != Version {
		st.fail(&Error{ReasonBadRequest, fmt.Sprintf("log request not understood (version %d): %v", req.V, err)})
		return
	}
	path, opts, err := s.resolve(req)
	if err != nil {
		st.fail(err)
		return
	}
	if err := st.hello(); err != nil {
		return
	}
	defer st.close()
	ch := &chunker{max: MaxChunk, left: -1, send: st.send}
	if req.LimitBytes != nil {
		ch.left = *req.LimitBytes
	}
	r := &reader{
		path: path, opts: opts, emit: ch.write,
		alive: func() bool { return s.Alive(path) },
		idle: func() error {
			if err := ch.flush(); err != nil {
				return err
			}
			if time.Since(st.lastSent) >= s.Keepalive { // a heartbeat: the gateway notices a dead node
				if err := st.send(nil); err != nil {
					return err
				}
			}
			return st.wait(s.Poll)
		},
	}
	err = r.run()
	if err == nil {
		err = ch.flush()
	}
	switch {
	case err == nil, errors.Is(err, errLimit):
		st.end()
	case errors.Is(err, errCancelled), errors.Is(err, errGone), ctx.Err() != nil:
	default:
		s.Logger.Warn("log stream failed", "pod", req.Namespace+"/"+req.Pod, "container", req.Container, "err", err)
		st.fail(&Error{ReasonInternal, err.Error()})
	}
}

// resolve finds the file of the attempt asked for, with kubelet's messages
// when there is none.
func (s *Server) resolve(req Request) (string, readOptions, error) {
	opts := readOptions{follow: req.Follow, timestamps: req.Timestamps, tail: -1}
	if req.TailLines != nil {
		opts.tail = *req.TailLines
	}
	switch {
	case req.SinceTime != nil:
		opts.since = *req.SinceTime
	case req.SinceSeconds != nil:
		opts.since = s.Now().Add(-time.Duration(*req.SinceSeconds) * time.Second)
	}
	if !safeName(req.UID) || !safeName(req.Container) {
		return "", opts, &Error{ReasonBadRequest, "invalid pod uid or container name"}
	}
	dir := filepath.Join(s.PodsDir, req.UID, "logs", req.Container)
	as, err := attempts(dir)
	if err != nil {
		return "", opts, err
	}
	pod := strconv.Quote(req.Pod)
	switch {
	case req.Previous && len(as) < 2:
		return "", opts, &Error{ReasonBadRequest, fmt.Sprintf("previous terminated container %q in pod %s not found", req.Container, pod)}
	case req.Previous:
		return Path(s.PodsDir, req.UID, req.Container, as[1]), opts, nil
	case len(as) == 0:
		return "", opts, &Error{ReasonBadRequest, fmt.Sprintf("container %q in pod %s is waiting to start: ContainerCreating", req.Container, pod)}
	}
	return Path(s.PodsDir, req.UID, req.Container, as[0]), opts, nil
}

func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}

var (
	errLimit = errors.New("limitBytes reached")
	errGone  = errors.New("the client went silent")
)

// chunker cuts the formatted log into messages of at most max bytes and
// stops at limitBytes.
type chunker struct {
	max  int
	left int64 // bytes still allowed; < 0: no limit
	buf  []byte
	send func([]byte) error
}

func (c *chunker) write(b []byte) error {
	limited := false
	if c.left >= 0 {
		if int64(len(b)) >= c.left {
			b, limited = b[:c.left], true
		}
		c.left -= int64(len(b))
	}
	c.buf = append(c.buf, b...)
	for len(c.buf) >= c.max {
		if err := c.send(c.buf[:c.max]); err != nil {
			return err
		}
		c.buf = append(c.buf[:0], c.buf[c.max:]...)
	}
	if limited {
		if err := c.flush(); err != nil {
			return err
		}
		return errLimit
	}
	return nil
}

func (c *chunker) flush() error {
	if len(c.buf) == 0 {
		return nil
	}
	err := c.send(c.buf)
	c.buf = c.buf[:0]
	return err
}

// sender publishes one stream's messages and honours the client's acks.
type sender struct {
	ctx        context.Context
	nc         *nats.Conn
	reply      string
	window     uint64
	idle       time.Duration
	seq, acked uint64
	ctl        *nats.Subscription
	ctlCh      chan *nats.Msg
	lastHeard  time.Time
	lastSent   time.Time
	cancelled  bool
	ctlSubject string
}

func (s *sender) publish(h nats.Header, data []byte) error {
	s.seq++
	m := &nats.Msg{Subject: s.reply, Header: h, Data: data}
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	m.Header.Set(HeaderSeq, strconv.FormatUint(s.seq, 10))
	s.lastSent = time.Now()
	return s.nc.PublishMsg(m)
}

func (s *sender) hello() error {
	s.ctlSubject = s.nc.NewInbox()
	s.ctlCh = make(chan *nats.Msg, 64)
	var err error
	if s.ctl, err = s.nc.ChanSubscribe(s.ctlSubject, s.ctlCh); err != nil {
		return err
	}
	s.lastHeard = time.Now()
	return s.publish(nats.Header{HeaderControl: []string{s.ctlSubject}}, nil)
}

func (s *sender) close() {
	if s.ctl != nil {
		s.ctl.Unsubscribe()
	}
}

// send publishes a chunk, then blocks while the window is full.
func (s *sender) send(data []byte) error {
	if err := s.publish(nil, data); err != nil {
		return err
	}
	for s.seq-s.acked >= s.window {
		if err := s.wait(s.idle); err != nil {
			return err
		}
	}
	return s.check()
}

// wait handles control messages for up to d.
func (s *sender) wait(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return s.ctx.Err()
	case m := <-s.ctlCh:
		s.handle(m)
	case <-t.C:
	}
	return s.check()
}

func (s *sender) check() error {
	for {
		select {
		case m := <-s.ctlCh:
			s.handle(m)
			continue
		default:
		}
		break
	}
	switch {
	case s.cancelled:
		return errCancelled
	case time.Since(s.lastHeard) > s.idle:
		return errGone
	}
	return nil
}

func (s *sender) handle(m *nats.Msg) {
	s.lastHeard = time.Now()
	body := string(m.Data)
	if body == "cancel" {
		s.cancelled = true
		return
	}
	if n, ok := strings.CutPrefix(body, "ack "); ok {
		if v, err := strconv.ParseUint(n, 10, 64); err == nil && v > s.acked && v <= s.seq {
			s.acked = v
		}
	}
}

func (s *sender) end() { s.publish(nats.Header{HeaderEnd: []string{"ok"}}, nil) }

func (s *sender) fail(err error) {
	var le *Error
	if !errors.As(err, &le) {
		le = &Error{ReasonInternal, err.Error()}
	}
	s.publish(nats.Header{HeaderError: []string{le.Reason}}, []byte(le.Message))
}
