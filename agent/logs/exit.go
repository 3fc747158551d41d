package logs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The shim outlives the agent, so it also records how the container's
// init ended: given a pidfd of the init (fd 6) and a path, it waits for
// the init to exit once the output has ended and writes its wait status
// there. Not being the init's parent, it cannot wait(2) for it; it reads
// the status from the pidfd (PIDFD_INFO_EXIT, Linux 6.15) once whoever is
// the parent (the agent, or the init of the machine after the agent died)
// has reaped it, or from /proc/<pid>/stat while it is a zombie nobody
// reaps. On older kernels with a prompt reaper it records nothing and the
// agent reports the code as unknown, as before.

// ExitWait bounds the shim's wait for a status once the init has exited.
const ExitWait = 2 * time.Second

// recordExit waits for the process of pidfd to exit and writes its wait
// status (decimal) to path, atomically.
func recordExit(pidfd *os.File, path string) error {
	defer pidfd.Close()
	pid := fdinfoPid(pidfd)
	fds := []unix.PollFd{{Fd: int32(pidfd.Fd()), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err == nil {
			break
		} else if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
	deadline := time.Now().Add(ExitWait)
	for {
		if ws, ok := exitStatus(pidfd, pid); ok {
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, []byte(strconv.Itoa(int(ws))), 0o600); err != nil {
				return err
			}
			return os.Rename(tmp, path)
		}
		if time.Now().After(deadline) {
			return errors.New("the container's exit status could not be read")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func exitStatus(pidfd *os.File, pid int) (syscall.WaitStatus, bool) {
	info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_EXIT}
	if unix.IoctlPidfdInfo(int(pidfd.Fd()), &info) == nil && info.Mask&unix.PIDFD_INFO_EXIT != 0 {
		return syscall.WaitStatus(info.Exit_code), true
	}
	if pid <= 0 {
		return 0, false
	}
	// Not reaped yet: a zombie's stat holds its wait status (field 52).
	// The pid cannot be reused before the zombie is reaped, and the
	// pidfd says it has exited, so a zombie here is that process.
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(stat[i+1:])) // from field 3, the state
	if len(fields) < 50 || fields[0] != "Z" {
		return 0, false
	}
	ws, err := strconv.Atoi(fields[49])
	return syscall.WaitStatus(ws), err == nil
}

// fdinfoPid is the pid a pidfd refers to, from /proc/self/fdinfo.
func fdinfoPid(pidfd *os.File) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", pidfd.Fd()))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Pid:"); ok {
			pid, _ := strconv.Atoi(strings.TrimSpace(v))
			return pid
		}
	}
	return -1
}

// ReadExit reads a wait status the shim recorded at path.
func ReadExit(path string) (syscall.WaitStatus, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	ws, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return syscall.WaitStatus(ws), err == nil
}
