package libct

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	_ "github.com/opencontainers/cgroups/devices" // device rules for the cgroupfs manager
	"github.com/opencontainers/runc/libcontainer"
	_ "github.com/opencontainers/runc/libcontainer/nsenter" // runs before Go in "init"

	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/agent/runtime"
)

var _ runtime.Runtime = (*Runtime)(nil)

// Init must be called first thing in main (and TestMain) of any binary that
// creates containers: when the binary is re-executed as a container's init
// process (argument "init"), it becomes that process and never returns.
// This package's own init calls it too (see init below); calling it again
// is harmless.
func Init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init() // does not return
	}
	if len(os.Args) > 1 && os.Args[1] == logs.ShimArg {
		os.Exit(logs.RunShim(os.Args[2:])) // the container's log writer (logshim.go)
	}
}

// init turns the process into a container's init or log shim as early
// as Go allows. Go initializes packages in import-path order once their
// own imports are, so the packages this one does not import and that sort
// after it (all of k8s.io, whose API scheme alone takes ~7 ms to build)
// never run in those processes: the wake binary spent ~10 ms of CPU on
// package init in each, twice per container, on the path to its start.
func init() { Init() }

// Runtime runs containers with libcontainer; see the package doc.
type Runtime struct {
	root string

	mu   sync.Mutex
	ctrs map[string]*container
}

type container struct {
	dir string

	mu   sync.Mutex
	meta meta
	lc   *libcontainer.Container // nil if the state could not be loaded
	proc *libcontainer.Process   // nil for adopted containers
	done chan struct{}           // closed once the exit is known (own children)
	logs <-chan struct{}         // closed when the log shim has written everything (own children)
}

// meta is the runtime's own record of a container (meta.json).
type meta struct {
	Version    int                   `json:"version"`
	Spec       runtime.ContainerSpec `json:"spec"`
	CreatedAt  time.Time             `json:"createdAt"`
	StartedAt  time.Time             `json:"startedAt,omitzero"`
	FinishedAt time.Time             `json:"finishedAt,omitzero"`
	Exit       *runtime.ExitStatus   `json:"exit,omitempty"`
	Cgroups    map[string]string     `json:"cgroups,omitempty"`
}

// New opens the runtime's state directory and re-adopts every container
// found there, running or not; nothing is started again.
func New(root string) (*Runtime, error) {
	for _, d := range []string{"containers", "libcontainer"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	SeccompSupported() // logs, once, when containers cannot have a seccomp filter
	r := &Runtime{root: root, ctrs: map[string]*container{}}
	ents, err := os.ReadDir(filepath.Join(root, "containers"))
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		c := &container{dir: filepath.Join(root, "containers", e.Name())}
		b, err := os.ReadFile(filepath.Join(c.dir, "meta.json"))
		if err != nil || json.Unmarshal(b, &c.meta) != nil {
			// Create did not get as far as writing meta.json: the agent
			// died in the middle of it. Nothing can run; clean up.
			removeRootfs(c.dir)
			os.RemoveAll(filepath.Join(root, "libcontainer", e.Name()))
			continue
		}
		c.lc, _ = libcontainer.Load(r.libctRoot(), c.meta.Spec.ID)
		r.ctrs[c.meta.Spec.ID] = c
	}
	return r, nil
}

func (r *Runtime) libctRoot() string { return filepath.Join(r.root, "libcontainer") }

func (r *Runtime) get(id string) (*container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.ctrs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", runtime.ErrNotFound, id)
	}
	return c, nil
}

// Create prepares the rootfs, the libcontainer container and its init
// process, which waits on libcontainer's exec fifo until Start.
func (r *Runtime) Create(ctx context.Context, spec runtime.ContainerSpec) (err error) {
	if err := spec.Validate(); err != nil {
		return err
	}
	c := &container{dir: filepath.Join(r.root, "containers", spec.ID), done: make(chan struct{})}
	c.meta = meta{Version: 1, Spec: spec, CreatedAt: time.Now().UTC()}
	c.mu.Lock()
	defer c.mu.Unlock()
	r.mu.Lock()
	if _, ok := r.ctrs[spec.ID]; ok {
		r.mu.Unlock()
		return fmt.Errorf("%w: %s", runtime.ErrExists, spec.ID)
	}
	r.ctrs[spec.ID] = c
	r.mu.Unlock()
	defer func() {
		if err != nil {
			if c.lc != nil {
				c.lc.Destroy()
			}
			removeRootfs(c.dir)
			r.mu.Lock()
			delete(r.ctrs, spec.ID)
			r.mu.Unlock()
		}
	}()

	if err := os.Mkdir(c.dir, 0o700); err != nil {
		return err
	}
	rootfs, err := mountRootfs(c.dir, spec.Layers)
	if err != nil {
		return err
	}
	cfg, err := libcontainerConfig(&spec, rootfs)
	if err != nil {
		return err
	}
	if c.lc, err = libcontainer.Create(r.libctRoot(), spec.ID, cfg); err != nil {
		return fmt.Errorf("create container %s: %w", spec.ID, err)
	}
	shim, err := newLogShim(spec.LogPath)
	if err != nil {
		return fmt.Errorf("container log: %w", err)
	}
	c.proc = &libcontainer.Process{
		Args: spec.Args, Env: spec.Env, Cwd: cfgCwd(spec.Cwd),
		UID: int(spec.UID), GID: int(spec.GID),
		Stdout: shim.Stdout, Stderr: shim.Stderr, // *os.File: passed as fds, no copying goroutine here
		Init: true,
	}
	if err := c.lc.Start(c.proc); err != nil {
		shim.close()
		return fmt.Errorf("start init of %s: %w", spec.ID, err)
	}
	pid := 0
	if st, err := c.lc.State(); err == nil {
		c.meta.Cgroups, pid = st.CgroupPaths, st.InitProcessPid
	}
	// The init waits for Start: it is alive, and the shim gets a pidfd
	// of it before its user process can run, let alone exit.
	if c.logs, err = shim.start(pid, filepath.Join(c.dir, exitFile)); err != nil {
		return fmt.Errorf("container log: %w", err)
	}
	if err := c.save(); err != nil {
		return err
	}
	go r.reap(c, c.proc, c.done)
	return nil
}

func cfgCwd(cwd string) string {
	if cwd == "" {
		return "/"
	}
	return cwd
}

// reap waits for a process this runtime is the parent of, then records how
// it ended. The cgroup is still there (until Delete), so the OOM counter
// can be read.
func (r *Runtime) reap(c *container, p *libcontainer.Process, done chan struct{}) {
	ps, _ := p.Wait()  // nil when the wait failed: the code is unknown
	if c.logs != nil { // the exit is reported once the log is complete (bounded: a daemon may keep the pipes)
		select {
		case <-c.logs:
		case <-time.After(2 * time.Second):
		}
	}
	exit := runtime.ExitStatus{CodeUnknown: true}
	if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			exit = exitOf(ws)
		}
	}
	c.mu.Lock()
	exit.OOMKilled = oomKilled(c.meta.Cgroups)
	c.meta.Exit, c.meta.FinishedAt = &exit, time.Now().UTC()
	c.save()
	c.mu.Unlock()
	close(done)
}

func (c *container) save() error {
	b, err := json.MarshalIndent(c.meta, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(c.dir, ".meta.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(c.dir, "meta.json"))
}

// Start runs the user process of a created container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	c, err := r.get(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lc == nil {
		return fmt.Errorf("%w: %s state is unreadable", runtime.ErrState, id)
	}
	st, err := c.lc.Status()
	if err != nil || st != libcontainer.Created {
		return fmt.Errorf("%w: start %s: status %v", runtime.ErrState, id, st)
	}
	if err := c.lc.Exec(); err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	c.meta.StartedAt = time.Now().UTC()
	return c.save()
}

// Wait blocks until the container has exited.
func (r *Runtime) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	c, err := r.get(id)
	if err != nil {
		return runtime.ExitStatus{}, err
	}
	if c.done != nil {
		select {
		case <-c.done:
		case <-ctx.Done():
			return runtime.ExitStatus{}, ctx.Err()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return *c.meta.Exit, nil
	}
	// Adopted: not our child. Poll until it is gone.
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if exit, ok := c.adoptedExit(); ok {
			return exit, nil
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return runtime.ExitStatus{}, ctx.Err()
		}
	}
}

// adoptedExit reports the exit of a container this instance did not start:
// the recorded one if a previous instance saw it, else an unknown code once
// its process is gone.
func (c *container) adoptedExit() (runtime.ExitStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.meta.Exit != nil {
		return *c.meta.Exit, true
	}
	if c.lc != nil {
		if st, err := c.lc.Status(); err == nil && st != libcontainer.Stopped {
			return runtime.ExitStatus{}, false
		}
	}
	if logs.WriterAlive(c.meta.Spec.LogPath) {
		return runtime.ExitStatus{}, false // the shim is still recording the exit
	}
	exit := c.shimExit()
	c.meta.Exit, c.meta.FinishedAt = &exit, time.Now().UTC()
	c.save()
	return exit, true
}

// exitFile is where the log shim records the init's wait status, in the
// container's directory.
const exitFile = "exit"

// shimExit is the exit the log shim recorded for an init this instance
// is not the parent of, or an unknown code when there is none.
func (c *container) shimExit() runtime.ExitStatus {
	exit := runtime.ExitStatus{CodeUnknown: true}
	if ws, ok := logs.ReadExit(filepath.Join(c.dir, exitFile)); ok {
		exit = exitOf(ws)
	}
	exit.OOMKilled = oomKilled(c.meta.Cgroups)
	return exit
}

// exitOf is how a process with wait status ws ended.
func exitOf(ws syscall.WaitStatus) runtime.ExitStatus {
	if ws.Signaled() {
		return runtime.ExitStatus{Signal: ws.Signal(), Code: 128 + int(ws.Signal())}
	}
	return runtime.ExitStatus{Code: ws.ExitStatus()}
}

// Kill signals the container's init process.
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal) error {
	c, err := r.get(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lc == nil {
		return nil
	}
	if err := c.lc.Signal(sig); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		return fmt.Errorf("kill %s: %w", id, err)
	}
	return nil
}

// Delete destroys a container that is not running: libcontainer state and
// cgroup, the rootfs mount and the writable layer.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	c, err := r.get(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.lc != nil {
		if st, err := c.lc.Status(); err == nil && (st == libcontainer.Running || st == libcontainer.Paused) {
			c.mu.Unlock()
			return fmt.Errorf("%w: delete %s: it is running", runtime.ErrState, id)
		}
		if err := c.lc.Destroy(); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("delete %s: %w", id, err)
		}
	} else {
		os.RemoveAll(filepath.Join(r.libctRoot(), id))
	}
	c.mu.Unlock()
	// Let the exit be recorded before the directory goes: reap's for our
	// own child (Destroy killed a created-only init), the log shim's
	// (which reap waits for, bounded) for an adopted one.
	if c.done != nil {
		<-c.done
	} else {
		for deadline := time.Now().Add(logs.ExitWait + time.Second); logs.WriterAlive(c.meta.Spec.LogPath) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	c.mu.Lock()
	err = removeRootfs(c.dir)
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	r.mu.Lock()
	delete(r.ctrs, id)
	r.mu.Unlock()
	return nil
}

// State reports a container's status.
func (r *Runtime) State(ctx context.Context, id string) (runtime.State, error) {
	c, err := r.get(id)
	if err != nil {
		return runtime.State{}, err
	}
	return c.state(), nil
}

func (c *container) state() runtime.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := runtime.State{
		ID: c.meta.Spec.ID, SandboxID: c.meta.Spec.Sandbox.ID,
		CreatedAt: c.meta.CreatedAt, StartedAt: c.meta.StartedAt, FinishedAt: c.meta.FinishedAt,
		Status: runtime.Unknown,
	}
	if c.meta.Exit != nil {
		exit := *c.meta.Exit
		s.Status, s.Exit = runtime.Exited, &exit
		return s
	}
	if c.lc == nil {
		return s
	}
	st, err := c.lc.State()
	if err != nil {
		return s
	}
	switch status, _ := c.lc.Status(); status {
	case libcontainer.Created:
		s.Status, s.Pid = runtime.Created, st.InitProcessPid
	case libcontainer.Running, libcontainer.Paused:
		s.Status, s.Pid = runtime.Running, st.InitProcessPid
	case libcontainer.Stopped:
		if c.done != nil {
			// Our own child: only its reaping (done, which records
			// meta.Exit first) says it exited. libcontainer can report
			// Stopped for a moment while it runs (a /proc read racing
			// with the start), and a caller must never restart a
			// container that is still running.
			s.Status, s.Pid = runtime.Running, st.InitProcessPid
			return s
		}
		// Exited, but the exit has not been recorded yet (the container
		// is adopted and nobody waited): the log shim's record, once it
		// has written it.
		if logs.WriterAlive(c.meta.Spec.LogPath) {
			s.Status, s.Pid = runtime.Running, st.InitProcessPid
			return s
		}
		exit := c.shimExit()
		s.Status, s.Exit = runtime.Exited, &exit
	}
	return s
}

// List reports every container, ordered by ID.
func (r *Runtime) List(ctx context.Context) ([]runtime.State, error) {
	r.mu.Lock()
	cs := make([]*container, 0, len(r.ctrs))
	for _, c := range r.ctrs {
		cs = append(cs, c)
	}
	r.mu.Unlock()
	out := make([]runtime.State, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.state())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
