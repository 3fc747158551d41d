package runtimetest

import (
	"context"
	"fmt"
	"strconv"
	"syscall"

	"github.com/wakehq/wake/agent/runtime"
	"github.com/wakehq/wake/agent/runtime/fake"
)

// ToolPath is where the test image holds the test tool.
const ToolPath = "/bin/tool"

// ToolProgram plays the test tool for the fake runtime, with the behaviour
// the real one has inside a container (including its memory limit).
func ToolProgram(ctx context.Context, p *fake.Process) runtime.ExitStatus {
	args := append(p.Spec.Args, "", "")
	switch args[1] {
	case "true":
		return runtime.ExitStatus{}
	case "exit":
		n, _ := strconv.Atoi(args[2])
		fmt.Fprintln(p.Log, "exiting with", n)
		return runtime.ExitStatus{Code: n}
	case "alloc":
		mib, _ := strconv.ParseInt(args[2], 10, 64)
		if limit := p.Spec.Limits.MemoryBytes; limit > 0 && mib<<20 >= limit {
			return runtime.ExitStatus{Code: 137, Signal: syscall.SIGKILL, OOMKilled: true}
		}
		fmt.Fprintln(p.Log, "allocated", mib, "MiB")
		return runtime.ExitStatus{}
	case "sleep", "serve":
		fmt.Fprintln(p.Log, "sleeping")
		for {
			select {
			case sig := <-p.Signals:
				if sig == syscall.SIGTERM && args[1] == "sleep" {
					fmt.Fprintln(p.Log, "terminating")
					return runtime.ExitStatus{Code: 143}
				}
				// PID 1 of a namespace ignores signals it has no handler for.
			case <-ctx.Done():
				return runtime.ExitStatus{Code: 137, Signal: syscall.SIGKILL}
			}
		}
	}
	fmt.Fprintln(p.Log, "unknown command", args[1])
	return runtime.ExitStatus{Code: 2}
}
