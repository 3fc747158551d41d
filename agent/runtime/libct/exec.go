package libct

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/opencontainers/runc/libcontainer"

	"github.com/wakehq/wake/agent/runtime"
)

var _ runtime.Execer = (*Runtime)(nil)

// maxExecOutput bounds what Exec keeps of a process's output (a probe's
// message, as the kubelet keeps 10 KiB).
const maxExecOutput = 10 << 10

// Exec runs args in the running container id, with the container's
// environment, user and working directory, and waits for it. When ctx ends
// first the process is killed.
func (r *Runtime) Exec(ctx context.Context, id string, args []string) (int, []byte, error) {
	c, err := r.get(id)
	if err != nil {
		return -1, nil, err
	}
	c.mu.Lock()
	lc, spec := c.lc, c.meta.Spec
	c.mu.Unlock()
	if lc == nil || len(args) == 0 {
		return -1, nil, fmt.Errorf("%w: exec in %s", runtime.ErrState, id)
	}
	out := &limitedBuffer{max: maxExecOutput}
	p := &libcontainer.Process{
		Args: args, Env: spec.Env, Cwd: cfgCwd(spec.Cwd),
		UID: int(spec.UID), GID: int(spec.GID),
		Stdout: out, Stderr: out,
	}
	if err := lc.Run(p); err != nil {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			p.Signal(syscall.SIGKILL)
		case <-done:
		}
	}()
	ps, err := p.Wait()
	close(done)
	if ps == nil {
		return -1, out.Bytes(), fmt.Errorf("exec in %s: %w", id, err)
	}
	if ctx.Err() != nil {
		return -1, out.Bytes(), ctx.Err()
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), out.Bytes(), nil
	}
	return ps.ExitCode(), out.Bytes(), nil
}

// limitedBuffer keeps the first max bytes written and discards the rest.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

var _ runtime.StreamExecer = (*Runtime)(nil)

// ExecStream runs p in the running container id like Exec, connected to
// p's streams, or to a terminal of its own when p.TTY (tty.go). Stdin goes
// through a pipe of our own so that the end of the process, not of
// p.Stdin, ends the wait.
func (r *Runtime) ExecStream(ctx context.Context, id string, p runtime.ExecProcess) (int, error) {
	c, err := r.get(id)
	if err != nil {
		return -1, err
	}
	c.mu.Lock()
	lc, spec := c.lc, c.meta.Spec
	c.mu.Unlock()
	if lc == nil || len(p.Args) == 0 {
		return -1, fmt.Errorf("%w: exec in %s", runtime.ErrState, id)
	}
	proc := &libcontainer.Process{
		Args: p.Args, Env: spec.Env, Cwd: cfgCwd(spec.Cwd),
		UID: int(spec.UID), GID: int(spec.GID),
	}
	if p.TTY {
		return execTTY(ctx, lc, proc, p)
	}
	proc.Stdout, proc.Stderr = p.Stdout, p.Stderr
	var stdinW *os.File
	if p.Stdin != nil {
		rd, wr, err := os.Pipe()
		if err != nil {
			return -1, err
		}
		defer rd.Close()
		proc.Stdin, stdinW = rd, wr
	}
	if err := lc.Run(proc); err != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		return -1, fmt.Errorf("exec in %s: %w", id, err)
	}
	if p.Started != nil {
		p.Started()
	}
	if stdinW != nil {
		go func() {
			io.Copy(stdinW, p.Stdin) // ends at the client's EOF or when the process is gone
			stdinW.Close()
		}()
	}
	return waitExec(ctx, proc)
}

// waitExec waits for an exec'd process, killing it if ctx ends first, and
// returns its exit code (128+signal when killed).
func waitExec(ctx context.Context, proc *libcontainer.Process) (int, error) {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			proc.Signal(syscall.SIGKILL)
		case <-done:
		}
	}()
	ps, err := proc.Wait()
	close(done)
	if ps == nil {
		return -1, fmt.Errorf("exec: %w", err)
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ps.ExitCode(), nil
}
