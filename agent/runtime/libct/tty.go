package libct

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/wakehq/wake/agent/runtime"
)

// ttyDrain bounds the wait for a terminal's last output once its process
// has exited: a background child may keep the terminal open for good.
const ttyDrain = time.Second

// execTTY runs proc on a new pseudo-terminal. libcontainer's init opens
// it inside the container (from the container's own devpts, as runc does)
// and hands the master over a socket; the agent then relays p.Stdin to the
// master and the master to p.Stdout, and applies p.Resize to it.
func execTTY(ctx context.Context, lc *libcontainer.Container, proc *libcontainer.Process, p runtime.ExecProcess) (int, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("console socket: %w", err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "console-parent"), os.NewFile(uintptr(fds[1]), "console-child")
	defer parent.Close()
	proc.ConsoleSocket = child
	select { // a size that is already known is the terminal's first
	case sz := <-p.Resize:
		proc.ConsoleWidth, proc.ConsoleHeight = sz.Width, sz.Height
	default:
	}
	err = lc.Run(proc)
	child.Close() // the container's init had its own copy
	if err != nil {
		return -1, fmt.Errorf("exec in %s: %w", lc.ID(), err)
	}
	master, err := recvMaster(parent)
	if err != nil {
		proc.Signal(unix.SIGKILL)
		proc.Wait()
		return -1, fmt.Errorf("exec in %s: terminal: %w", lc.ID(), err)
	}
	defer master.Close()
	if p.Started != nil {
		p.Started()
	}
	stdout := p.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	output := make(chan struct{})
	go func() {
		defer close(output)
		io.Copy(stdout, master) // ends with EIO once no process has the terminal open
	}()
	if p.Stdin != nil {
		go func() {
			// The end of the client's input is typed as ^D: a terminal has
			// no other way to say it, and shells and cat take it as EOF.
			if _, err := io.Copy(master, p.Stdin); err == nil {
				master.Write([]byte{4})
			}
		}()
	}
	stopResize := make(chan struct{})
	defer close(stopResize)
	go func() {
		for {
			select {
			case sz, ok := <-p.Resize:
				if !ok {
					return
				}
				setWinsize(master, sz)
			case <-stopResize:
				return
			}
		}
	}()
	code, err := waitExec(ctx, proc)
	select {
	case <-output:
	case <-time.After(ttyDrain):
	}
	return code, err
}

// recvMaster receives the terminal's master descriptor (SCM_RIGHTS) from
// the container's init, close-on-exec and non-blocking so that Close ends
// a pending Read.
func recvMaster(sock *os.File) (*os.File, error) {
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, errors.Join(errors.New("no descriptor received"), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.Join(errors.New("want exactly one descriptor"), err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}

func setWinsize(master *os.File, sz runtime.TerminalSize) error {
	rc, err := master.SyscallConn()
	if err != nil {
		return err
	}
	ctlErr := rc.Control(func(fd uintptr) {
		err = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: sz.Height, Col: sz.Width})
	})
	return errors.Join(ctlErr, err)
}
