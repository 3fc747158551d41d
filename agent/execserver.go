package agent

import (
	"context"
	"fmt"

	podexec "github.com/wakehq/wake/agent/exec"
	"github.com/wakehq/wake/agent/runtime"
)

// execServer answers `kubectl exec` for the node's containers on NATS
// (agent/exec), on the event log's connection.
func (a *Agent) execServer() *podexec.Server {
	return &podexec.Server{NC: a.cfg.Log.JetStream().Conn(), Node: a.cfg.NodeName, Exec: a.execIn, Logger: a.log}
}

// execIn runs an exec request in the newest running attempt of the
// container.
func (a *Agent) execIn(ctx context.Context, req podexec.Request, p podexec.Process) (int, error) {
	se, ok := a.rt.(runtime.StreamExecer)
	if !ok {
		return -1, &podexec.Error{Reason: podexec.ReasonBadRequest, Message: fmt.Sprintf("the runtime of node %q cannot exec", a.cfg.NodeName)}
	}
	id, err := a.runningContainer(ctx, req.UID, req.Container)
	if err != nil {
		return -1, err
	}
	ep := runtime.ExecProcess{Args: req.Command, Stdin: p.Stdin, Stdout: p.Stdout, Stderr: p.Stderr, Started: p.Started, TTY: req.TTY}
	if req.TTY {
		ep.Stderr = nil // a terminal has one output
		ep.Resize = terminalSizes(ctx, p.Resize)
	}
	return se.ExecStream(ctx, id, ep)
}

// terminalSizes relays the session's terminal sizes to the runtime until
// ctx ends.
func terminalSizes(ctx context.Context, in <-chan podexec.Size) <-chan runtime.TerminalSize {
	out := make(chan runtime.TerminalSize, 1)
	go func() {
		for {
			select {
			case sz := <-in:
				select {
				case out <- runtime.TerminalSize{Width: sz.Width, Height: sz.Height}:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// runningContainer is the runtime id of the container's running attempt,
// or the kubelet's "container not found".
func (a *Agent) runningContainer(ctx context.Context, uid, name string) (string, error) {
	states, err := a.rt.List(ctx)
	if err != nil {
		return "", err
	}
	id, best := "", -1
	for _, st := range states {
		n, attempt, ok := parseContainerID(st.ID)
		if ok && st.SandboxID == uid && n == name && st.Status == runtime.Running && attempt > best {
			id, best = st.ID, attempt
		}
	}
	if id == "" {
		return "", &podexec.Error{Reason: podexec.ReasonBadRequest, Message: fmt.Sprintf("container not found (%q)", name)}
	}
	return id, nil
}
