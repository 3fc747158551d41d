package devcluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/wakehq/wake/internal/netnsexec"
)

// Proc is one child `wake` process of the cluster. Its output (stdout and
// stderr) goes to its log file, appended across restarts.
type Proc struct {
	Name  string // nats1, gateway1, scheduler2, agent-n3
	Role  string // nats, gateway, scheduler, controllers, agent
	Netns string // "" = the host's
	Log   string // the log file
	// ready is what the log says once the process serves; "" = started.
	ready string

	bin  string
	args []string
	env  []string // added to the harness's environment

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	start time.Time
	// logOffset is the log's size when the current run started, so that
	// readiness is judged on this run's lines only.
	logOffset int64
	// down is set by Kill: the supervisor leaves the process stopped until
	// Start. A process that exits otherwise (Crash, a failure) is
	// restarted, as systemd's Restart=always does with deploy/'s units.
	down     bool
	restarts int
	exited   time.Time
}

// Start starts the process (again, after Kill) and returns at once.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s is running", p.Name)
		}
	}
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	st, _ := f.Stat()
	fmt.Fprintf(f, "\n=== %s: %s %v\n", time.Now().UTC().Format(time.RFC3339Nano), p.bin, p.args)
	cmd := exec.Command(p.bin, p.args...)
	if p.env != nil {
		cmd.Env = append(os.Environ(), p.env...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a Ctrl-C at the terminal reaches the harness,
	// which then stops its children in order.
	// Pdeathsig: should the harness die without Close, its processes go
	// with it (Sweep removes the rest).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := netnsexec.StartIn(p.Netns, cmd.Start); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	p.cmd, p.done, p.start, p.logOffset, p.down = cmd, make(chan struct{}), time.Now(), st.Size(), false
	done := p.done
	go func() {
		cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.exited = time.Now()
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// WaitReady waits until this run's log shows the process serves.
func (p *Proc) WaitReady(within time.Duration) error {
	p.mu.Lock()
	off, done := p.logOffset, p.done
	p.mu.Unlock()
	deadline := time.Now().Add(within)
	for {
		b, _ := os.ReadFile(p.Log)
		if int64(len(b)) > off && bytes.Contains(b[off:], []byte(p.ready)) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready; see %s", p.Name, p.Log)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s (no %q in %s)", p.Name, within, p.ready, p.Log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill sends SIGKILL, waits until the process is gone, and keeps it down
// until Start.
func (p *Proc) Kill() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.Signal(syscall.SIGKILL)
	p.Wait()
}

// Crash is kill -9 as a failure: the process is gone when Crash returns
// and the supervisor restarts it (after RestartDelay).
func (p *Proc) Crash() {
	p.Signal(syscall.SIGKILL)
	p.Wait()
}

// Restarts counts the supervisor's restarts of this process.
func (p *Proc) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// RestartDelay is how long the supervisor waits before restarting a
// process that exited: deploy/systemd's RestartSec.
const RestartDelay = 2 * time.Second

// restartIfExited restarts p when it exited on its own (or by Crash) at
// least RestartDelay ago.
func (p *Proc) restartIfExited() (bool, error) {
	p.mu.Lock()
	if p.cmd == nil || p.down || p.running() || time.Since(p.exited) < RestartDelay {
		p.mu.Unlock()
		return false, nil
	}
	p.restarts++
	p.mu.Unlock()
	return true, p.Start()
}

// Signal sends sig to the process if it runs.
func (p *Proc) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.cmd.Process != nil && p.running() {
		p.cmd.Process.Signal(sig)
	}
}

// Wait waits until the process has exited (at once if it never ran).
func (p *Proc) Wait() {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Running reports whether the process runs.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running()
}

func (p *Proc) running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Pid is the process id of the current run (0 when it never started).
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
