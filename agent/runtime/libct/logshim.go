package libct

import (
	"errors"
	"os"
	"os/exec"
	"syscall"

	"github.com/wakehq/wake/agent/logs"
)

// startLogShim starts the process that writes a container's output into
// path in the CRI log format (logs.Shim): this binary again, with the
// argument logs.ShimArg, in a session of its own so it outlives the agent
// as the container does. It returns the write ends of the stdout and
// stderr pipes for the container, and a channel closed when the shim has
// exited (every writer gone, everything written).
//
// The shim holds the log's lock (logs.WriterAlive) from before the
// container starts: the agent locks it and hands the locked descriptor
// over.
func startLogShim(path string) (stdout, stderr *os.File, done <-chan struct{}, err error) {
	lock, err := logs.LockWriter(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer lock.Close()
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640); err == nil {
		f.Close() // exists as soon as Create returns
	}
	or, ow, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		or.Close()
		ow.Close()
		return nil, nil, nil, err
	}
	defer or.Close()
	defer er.Close()
	cmd := exec.Command("/proc/self/exe", logs.ShimArg, path)
	cmd.ExtraFiles = []*os.File{or, er, lock} // fds 3, 4, 5
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		ow.Close()
		ew.Close()
		return nil, nil, nil, errors.Join(errors.New("start log shim"), err)
	}
	ch := make(chan struct{})
	go func() { cmd.Wait(); close(ch) }()
	return ow, ew, ch, nil
}
