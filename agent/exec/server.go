package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/agent/internal/natsserve"
)

// Process is what a Runner connects a process to. Stdin, Stdout and Stderr
// are nil unless the request asks for them; with a TTY the runner sends
// all output to Stdout and applies Resize.
type Process struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Resize         <-chan Size
	// Started must be called once the process runs, before it can read
	// stdin; output written earlier waits for it.
	Started func()
}

// Runner runs req's command and returns its exit code once it has ended
// and its output is written. An *Error before Started reaches the gateway
// as the refusal (NotFound, BadRequest); ctx ending must kill the process.
type Runner func(ctx context.Context, req Request, p Process) (int, error)

// Server answers the exec requests of one node.
type Server struct {
	NC     *nats.Conn
	Node   string
	Exec   Runner
	Logger *slog.Logger
	// Keepalive and IdleTimeout default to the package's.
	Keepalive, IdleTimeout time.Duration

	active atomic.Int64
}

// Active is the number of sessions being served.
func (s *Server) Active() int64 { return s.active.Load() }

// Run answers requests until ctx ends, then waits for the sessions it
// started (their processes are killed).
func (s *Server) Run(ctx context.Context) error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if err := natsserve.Serve(ctx, s.NC, Subject(s.Node), s.serve); err != nil {
		return fmt.Errorf("exec: subscribe: %w", err)
	}
	return nil
}

func (s *Server) serve(ctx context.Context, m *nats.Msg) {
	s.active.Add(1)
	defer s.active.Add(-1)
	var req Request
	if err := json.Unmarshal(m.Data, &req); err != nil || req.V != Version {
		Refuse(s.NC, m.Reply, &Error{ReasonBadRequest, fmt.Sprintf("exec request not understood (version %d): %v", req.V, err)})
		return
	}
	if !safeName(req.UID) || !safeName(req.Container) || len(req.Command) == 0 {
		Refuse(s.NC, m.Reply, &Error{ReasonBadRequest, "invalid pod uid, container name or command"})
		return
	}
	conn, err := Accept(s.NC, protocol, m.Reply, s.Keepalive, s.IdleTimeout)
	if err != nil {
		Refuse(s.NC, m.Reply, &Error{ReasonInternal, err.Error()})
		return
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stdinR, stdinW := io.Pipe()
	defer stdinR.Close() // unblocks the consumer once the process is gone
	resize := make(chan Size, 4)
	started := make(chan struct{})
	var (
		once     sync.Once
		consumer sync.WaitGroup
	)
	p := Process{Resize: resize, Started: func() {
		once.Do(func() {
			if err := conn.Hello(ctx); err != nil {
				cancel()
			}
			close(started)
			consumer.Go(func() { s.consume(ctx, cancel, conn, stdinW, resize) })
		})
	}}
	if req.Stdin {
		p.Stdin = stdinR
	}
	if req.Stdout {
		p.Stdout = &streamWriter{ctx, conn, Stdout, started}
	}
	if req.Stderr && !req.TTY {
		p.Stderr = &streamWriter{ctx, conn, Stderr, started}
	}
	code, err := s.Exec(ctx, req, p)
	select {
	case <-started:
	default:
		if err == nil {
			err = &Error{ReasonInternal, "the process did not start"}
		}
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{ReasonInternal, err.Error()}
		}
		Refuse(s.NC, m.Reply, e)
		return
	}
	switch {
	case err != nil && ctx.Err() == nil:
		s.Logger.Warn("exec failed", "pod", req.Namespace+"/"+req.Pod, "container", req.Container, "err", err)
		conn.Send(ctx, Frame{Kind: KindError, Reason: ReasonInternal, Data: []byte(err.Error())})
	case err == nil:
		conn.Send(ctx, Frame{Kind: KindExit, Data: []byte(strconv.Itoa(code))})
	}
	stdinR.Close()
	conn.Close()
	consumer.Wait()
}

// consume hands the gateway's frames to the process until the session
// ends; a cancel or a broken session kills the process.
func (s *Server) consume(ctx context.Context, cancel func(), conn *Conn, stdin *io.PipeWriter, resize chan Size) {
	defer cancel()
	defer stdin.Close()
	for {
		f, err := conn.Next(ctx)
		if err != nil {
			return
		}
		switch f.Kind {
		case KindData:
			if f.Stream == Stdin {
				stdin.Write(f.Data) // fails once the process stopped reading
			}
		case KindClose:
			if f.Stream == Stdin {
				stdin.Close()
			}
		case KindResize:
			var sz Size
			if json.Unmarshal(f.Data, &sz) == nil {
				latestSize(resize, sz)
			}
		case KindCancel:
			return
		}
	}
}

// latestSize queues sz for the runner without blocking the session: when
// the runner lags, the oldest queued size goes, since only the last one
// matters. consume is the only sender.
func latestSize(ch chan Size, sz Size) {
	for {
		select {
		case ch <- sz:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// streamWriter sends a process's output once the hello is out.
type streamWriter struct {
	ctx     context.Context
	conn    *Conn
	stream  string
	started <-chan struct{}
}

func (w *streamWriter) Write(p []byte) (int, error) {
	select {
	case <-w.started:
	case <-w.ctx.Done():
		return 0, w.ctx.Err()
	}
	if err := w.conn.Write(w.ctx, w.stream, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func safeName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\\\x00")
}
