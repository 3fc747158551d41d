package portforward

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wakehq/wake/agent/exec"
)

// ErrCanceled is what Pipe returns when the other side gave up the
// session (its client went away, or it failed).
var ErrCanceled = errors.New("the other side ended the port-forward session")

// Stream is one end of a forwarded connection: the pod's socket on the
// agent, the client's data stream on the gateway.
type Stream interface {
	io.ReadWriter
	// CloseWrite is a half-close: the reader of this end sees EOF, and
	// reading from it goes on.
	CloseWrite() error
	// Close ends both directions and unblocks a Read.
	Close() error
}

// cancelTimeout bounds telling the peer that this side gave up.
const cancelTimeout = 5 * time.Second

// Pipe relays s and the session both ways, each way ending with a close
// frame (a half-close), until both ways have closed (nil), the peer sent
// an error (*Error) or a cancel (ErrCanceled), or something broke: then the
// peer is told to cancel, s is closed, and Pipe returns why. After a clean
// end s is only half-closed both ways: closing it fully could discard data
// its reader has not taken yet (a SPDY reset does). The caller still
// releases s and closes conn.
func Pipe(ctx context.Context, conn *exec.Conn, s Stream) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg        sync.WaitGroup
		peerEnded atomic.Bool
	)
	ends := make(chan error, 3) // nil: one way closed
	wg.Go(func() { ends <- sendAll(ctx, conn, s) })
	wg.Go(func() { receiveAll(ctx, conn, s, ends, &peerEnded) })
	var err error
	for closed := 0; closed < 2; closed++ {
		if err = <-ends; err != nil {
			break
		}
	}
	cancel() // unblocks a Send waiting for the window, and Next
	if err != nil {
		s.Close() // unblocks Read
		if !peerEnded.Load() {
			sendCtx, stop := context.WithTimeout(context.Background(), cancelTimeout)
			conn.Send(sendCtx, exec.Frame{Kind: exec.KindCancel})
			stop()
		}
	}
	wg.Wait()
	return err
}

// sendAll sends what s reads, then a close frame at its end.
func sendAll(ctx context.Context, conn *exec.Conn, s Stream) error {
	buf := make([]byte, exec.MaxChunk)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if err := conn.Write(ctx, "", buf[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return conn.Send(ctx, exec.Frame{Kind: exec.KindClose})
		}
		if err != nil {
			return err
		}
	}
}

// receiveAll writes the peer's data to s and half-closes s at the peer's
// close, reporting that on ends; it goes on reading until the session
// ends, so that a cancel or an error after the close still ends it.
func receiveAll(ctx context.Context, conn *exec.Conn, s Stream, ends chan<- error, peerEnded *atomic.Bool) {
	closed := false
	for {
		f, err := conn.Next(ctx)
		if err != nil {
			ends <- err
			return
		}
		switch f.Kind {
		case exec.KindData:
			if closed {
				continue // past its close: a confused peer, nothing to write to
			}
			if _, err := s.Write(f.Data); err != nil {
				ends <- err
				return
			}
		case exec.KindClose:
			if !closed {
				closed = true
				s.CloseWrite()
				ends <- nil
			}
		case exec.KindError:
			peerEnded.Store(true)
			ends <- &Error{Reason: f.Reason, Message: string(f.Data)}
			return
		case exec.KindCancel:
			peerEnded.Store(true)
			ends <- ErrCanceled
			return
		}
	}
}
