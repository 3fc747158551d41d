package logs

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The shim reads a wait status it is not the parent of: from a zombie's
// /proc stat before anyone reaps it, from the pidfd (PIDFD_INFO_EXIT,
// Linux 6.15) after.
func TestRecordExit(t *testing.T) {
	for _, reapFirst := range []bool{false, true} {
		cmd := exec.Command("/bin/sh", "-c", "exit 7")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
		if err != nil {
			t.Skipf("no pidfd_open: %v", err)
		}
		pidfd := os.NewFile(uintptr(fd), "pidfd")
		if reapFirst {
			cmd.Wait()
			info := unix.PidfdInfo{Mask: unix.PIDFD_INFO_EXIT}
			if err := unix.IoctlPidfdInfo(fd, &info); err != nil || info.Mask&unix.PIDFD_INFO_EXIT == 0 {
				pidfd.Close()
				t.Logf("kernel without PIDFD_INFO_EXIT (%v): only zombies' status can be read", err)
				continue
			}
		}
		path := filepath.Join(t.TempDir(), "exit")
		err = recordExit(pidfd, path)
		if !reapFirst {
			cmd.Wait()
		}
		ws, ok := ReadExit(path)
		if err != nil || !ok || !ws.Exited() || ws.ExitStatus() != 7 {
			t.Errorf("reaped first %v: %v, %v %v", reapFirst, err, ws, ok)
		}
	}
}
