package portforward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/agent/exec"
	"github.com/wakehq/wake/agent/internal/natsserve"
)

// Dialer connects to req's port in its pod within ctx (which ends after
// DialTimeout). An *Error is the refusal the gateway reports as is (say
// NotFound for a pod the node does not run); any other error is reported
// as the failed dial it is.
type Dialer func(ctx context.Context, req Request) (net.Conn, error)

// Server answers the port-forward requests of one node.
type Server struct {
	NC     *nats.Conn
	Node   string
	Dial   Dialer
	Logger *slog.Logger
	// Keepalive and IdleTimeout default to agent/exec's.
	Keepalive, IdleTimeout time.Duration

	active atomic.Int64
}

// Active is the number of sessions being served.
func (s *Server) Active() int64 { return s.active.Load() }

// Run answers requests until ctx ends, then waits for the sessions it
// started (their connections are closed).
func (s *Server) Run(ctx context.Context) error {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if err := natsserve.Serve(ctx, s.NC, Subject(s.Node), s.serve); err != nil {
		return fmt.Errorf("portforward: subscribe: %w", err)
	}
	return nil
}

func (s *Server) serve(ctx context.Context, m *nats.Msg) {
	s.active.Add(1)
	defer s.active.Add(-1)
	var req Request
	err := json.Unmarshal(m.Data, &req)
	if err == nil {
		err = req.Validate()
	}
	if err != nil {
		exec.Refuse(s.NC, m.Reply, &Error{Reason: exec.ReasonBadRequest, Message: "port-forward request not understood: " + err.Error()})
		return
	}
	dialCtx, cancel := context.WithTimeout(ctx, DialTimeout)
	c, err := s.Dial(dialCtx, req)
	cancel()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Reason: exec.ReasonInternal, Message: fmt.Sprintf("failed to dial port %d: %v", req.Port, err)}
		}
		exec.Refuse(s.NC, m.Reply, e)
		return
	}
	conn, err := exec.Accept(s.NC, protocol, m.Reply, s.Keepalive, s.IdleTimeout)
	if err != nil {
		c.Close()
		exec.Refuse(s.NC, m.Reply, &Error{Reason: exec.ReasonInternal, Message: err.Error()})
		return
	}
	defer conn.Close()
	if err := conn.Hello(ctx); err != nil {
		c.Close()
		return
	}
	if err := Pipe(ctx, conn, podConn{c}); err != nil && ctx.Err() == nil {
		s.Logger.Debug("port-forward session ended", "pod", req.Namespace+"/"+req.Pod, "port", req.Port, "err", err)
	}
}

// podConn is the pod's end of a session: its reset reads as the end of
// its data (see the package doc).
type podConn struct{ net.Conn }

func (p podConn) Read(b []byte) (int, error) {
	n, err := p.Conn.Read(b)
	if errors.Is(err, syscall.ECONNRESET) {
		err = io.EOF
	}
	return n, err
}

// CloseWrite half-closes: the pod's server reads EOF and may still answer.
func (p podConn) CloseWrite() error {
	if hc, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return p.Conn.Close()
}
