// Package netnsexec starts processes inside a named network namespace
// while they keep this process's mount namespace — unlike `ip netns exec`,
// which remounts /sys and hides the cgroup hierarchies an agent needs.
package netnsexec

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// StartIn runs start (which forks, say exec.Cmd.Start) from a thread inside
// the network namespace ns ("" = this one): the child is born there. The
// thread returns to its namespace afterwards; if it cannot, it stays locked
// and dies with its goroutine rather than serve others.
func StartIn(ns string, start func() error) error {
	if ns == "" {
		return start()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: %w", ns, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	startErr := start()
	if err := netns.Set(orig); err != nil {
		return errors.Join(startErr, err)
	}
	runtime.UnlockOSThread()
	return startErr
}
