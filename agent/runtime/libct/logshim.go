package libct

import (
	"errors"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wakehq/wake/agent/logs"
)

// logShim is the process that writes a container's output into its log
// file in the CRI log format (logs.Shim): this binary again, with the
// argument logs.ShimArg, in a session of its own so it outlives the agent
// as the container does. It also records the exit status of the
// container's init (logs.RunShim), which only the agent that created the
// container could see otherwise.
//
// The shim holds the log's lock (logs.WriterAlive) from before the
// container's process runs: the agent locks it and hands the locked
// descriptor over.
type logShim struct {
	path           string
	lock           *os.File
	stdoutR, errR  *os.File
	Stdout, Stderr *os.File // the write ends, for the container
}

// newLogShim locks the log at path and makes the container's pipes; start
// runs the shim once the container's init exists.
func newLogShim(path string) (*logShim, error) {
	lock, err := logs.LockWriter(path)
	if err != nil {
		return nil, err
	}
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640); err == nil {
		f.Close() // exists as soon as Create returns
	}
	s := &logShim{path: path, lock: lock}
	if s.stdoutR, s.Stdout, err = os.Pipe(); err != nil {
		s.close()
		return nil, err
	}
	if s.errR, s.Stderr, err = os.Pipe(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close closes the agent's copies of every descriptor: once the shim and
// the container have theirs, or when creation failed.
func (s *logShim) close() {
	for _, f := range []*os.File{s.lock, s.stdoutR, s.errR, s.Stdout, s.Stderr} {
		if f != nil {
			f.Close()
		}
	}
}

// start runs the shim, which records the exit status of the process pid
// at exitPath (best effort: without a pidfd it only writes the log). The
// returned channel is closed when the shim has exited: every writer gone,
// everything written, the exit recorded.
func (s *logShim) start(pid int, exitPath string) (<-chan struct{}, error) {
	defer s.close()
	args := []string{logs.ShimArg, s.path}
	files := []*os.File{s.stdoutR, s.errR, s.lock} // fds 3, 4, 5
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		pidfd := os.NewFile(uintptr(fd), "pidfd")
		defer pidfd.Close()
		args, files = append(args, exitPath), append(files, pidfd) // fd 6
	}
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.ExtraFiles = files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(errors.New("start log shim"), err)
	}
	ch := make(chan struct{})
	go func() { cmd.Wait(); close(ch) }()
	return ch, nil
}
