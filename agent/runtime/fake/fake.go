// Package fake is an in-memory runtime.Runtime for the agent's tests: no
// processes, namespaces or cgroups, but the same lifecycle, errors and exit
// reporting as libct (both pass runtimetest). What a container "does" is a
// Program looked up by its first argument.
package fake

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/wakehq/wake/agent/runtime"
)

// Process is what a Program sees of its container.
type Process struct {
	Spec    runtime.ContainerSpec
	Log     io.Writer             // the container's log file
	Signals <-chan syscall.Signal // every signal but SIGKILL, which ends the program's context
}

// Program plays a container's process: it returns when the process would
// exit. ctx is cancelled by SIGKILL (the result is then ignored).
type Program func(ctx context.Context, p *Process) runtime.ExitStatus

// Node is the state shared by every Runtime opened on it, standing in for
// the state directory and the kernel: a second Runtime on the same Node
// re-adopts the containers, as libct does after an agent restart.
type Node struct {
	programs map[string]Program
	now      func() time.Time

	mu   sync.Mutex
	ctrs map[string]*container
	pids int
}

// NewNode makes a node whose containers run programs (keyed by Args[0]).
// now may be nil (time.Now).
func NewNode(programs map[string]Program, now func() time.Time) *Node {
	if now == nil {
		now = time.Now
	}
	return &Node{programs: programs, now: now, ctrs: map[string]*container{}, pids: 100}
}

// Runtime is one agent's view of a Node.
type Runtime struct{ n *Node }

var _ runtime.Runtime = (*Runtime)(nil)

// Open returns a Runtime on n.
func (n *Node) Open() *Runtime { return &Runtime{n: n} }

type container struct {
	state   runtime.State
	spec    runtime.ContainerSpec
	signals chan syscall.Signal
	kill    context.CancelFunc
	done    chan struct{}
}

func (r *Runtime) get(id string) (*container, error) {
	c, ok := r.n.ctrs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
	}
	return c, nil
}

func (r *Runtime) Create(ctx context.Context, spec runtime.ContainerSpec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if _, ok := r.n.programs[spec.Args[0]]; !ok {
		return fmt.Errorf("create %s: exec %q: no such file or directory", spec.ID, spec.Args[0])
	}
	r.n.mu.Lock()
	defer r.n.mu.Unlock()
	if _, ok := r.n.ctrs[spec.ID]; ok {
		return fmt.Errorf("%w: %s", runtime.ErrExists, spec.ID)
	}
	r.n.pids++
	r.n.ctrs[spec.ID] = &container{
		spec:    spec,
		state:   runtime.State{ID: spec.ID, SandboxID: spec.Sandbox.ID, Status: runtime.Created, Pid: r.n.pids, CreatedAt: r.n.now()},
		signals: make(chan syscall.Signal, 16),
		done:    make(chan struct{}),
	}
	return nil
}

func (r *Runtime) Start(ctx context.Context, id string) error {
	r.n.mu.Lock()
	defer r.n.mu.Unlock()
	c, err := r.get(id)
	if err != nil {
		return err
	}
	if c.state.Status != runtime.Created {
		return fmt.Errorf("%w: start %s: status %s", runtime.ErrState, id, c.state.Status)
	}
	log, err := os.OpenFile(c.spec.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("container log: %w", err)
	}
	pctx, kill := context.WithCancel(context.Background())
	c.kill = kill
	c.state.Status, c.state.StartedAt = runtime.Running, r.n.now()
	p := &Process{Spec: c.spec, Log: log, Signals: c.signals}
	prog := r.n.programs[c.spec.Args[0]]
	go func() {
		defer log.Close()
		exit := prog(pctx, p)
		r.n.mu.Lock()
		defer r.n.mu.Unlock()
		r.exited(c, exit)
	}()
	return nil
}

// exited records the first exit of c; n.mu must be held.
func (r *Runtime) exited(c *container, exit runtime.ExitStatus) {
	if c.state.Status == runtime.Exited {
		return
	}
	c.state.Status, c.state.FinishedAt, c.state.Pid = runtime.Exited, r.n.now(), 0
	c.state.Exit = &exit
	close(c.done)
}

func (r *Runtime) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	r.n.mu.Lock()
	c, err := r.get(id)
	r.n.mu.Unlock()
	if err != nil {
		return runtime.ExitStatus{}, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return runtime.ExitStatus{}, ctx.Err()
	}
	r.n.mu.Lock()
	defer r.n.mu.Unlock()
	return *c.state.Exit, nil
}

func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal) error {
	r.n.mu.Lock()
	defer r.n.mu.Unlock()
	c, err := r.get(id)
	if err != nil {
		return err
	}
	switch {
	case c.state.Status == runtime.Exited:
	case sig == syscall.SIGKILL || c.state.Status == runtime.Created:
		// The kernel's SIGKILL needs no cooperation; a created process
		// dies of any deadly signal before running user code.
		if c.kill != nil {
			c.kill()
		}
		r.exited(c, runtime.ExitStatus{Code: 128 + int(sig), Signal: sig})
	default:
		select {
		case c.signals <- sig:
		default:
		}
	}
	return nil
}

func (r *Runtime) Delete(ctx context.Context, id string) error {
	r.n.mu.Lock()
	defer r.n.mu.Unlock()
	c, err := r.get(id)
	if err != nil {
		return err
	}
	if c.state.Status == runtime.Running {
		return fmt.Errorf("%w: delete %s: it is running", runtime.ErrState, id)
	}
	if c.state.Status == runtime.Created {
		r.exited(c, runtime.ExitStatus{Code: 137, Signal: syscall.SIGKILL})
	}
	delete(r.n.ctrs, id)
	return nil
}

func (r *Runtime) State(ctx context.Context, id string) (runtime.State, error) {
	r.n.mu.Lock()
	defer r.n.mu.Unlock()
	c, err := r.get(id)
	if err != nil {
		return runtime.State{}, err
	}
	return copyState(c.state), nil
}

func (r *Runtime) List(ctx context.Context) ([]runtime.State, error) {
	r.n.mu.Lock()
	defer r.n.mu.Unlock()
	out := make([]runtime.State, 0, len(r.n.ctrs))
	for _, c := range r.n.ctrs {
		out = append(out, copyState(c.state))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func copyState(s runtime.State) runtime.State {
	if s.Exit != nil {
		e := *s.Exit
		s.Exit = &e
	}
	return s
}
