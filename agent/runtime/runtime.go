package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"syscall"
	"time"
)

// Runtime runs the containers of pod sandboxes on this node. A container
// goes Created → Running → Exited; Delete removes it in any state but
// Running. Every method is safe for concurrent use; IDs are unique per node.
type Runtime interface {
	// Create prepares a container (rootfs, cgroup, namespaces, log file)
	// and its process, which waits to be started.
	Create(ctx context.Context, spec ContainerSpec) error
	// Start runs the process of a Created container.
	Start(ctx context.Context, id string) error
	// Wait blocks until the container has exited (or ctx is done) and
	// returns how it ended.
	Wait(ctx context.Context, id string) (ExitStatus, error)
	// Kill sends sig to the container's process; killing an exited
	// container is not an error.
	Kill(ctx context.Context, id string, sig syscall.Signal) error
	// Delete removes a container that is not running, leaving nothing
	// behind (cgroup, mounts, state), but keeps its log file.
	Delete(ctx context.Context, id string) error
	State(ctx context.Context, id string) (State, error)
	List(ctx context.Context) ([]State, error)
}

// PodSandbox is what containers of one pod share: namespaces given by path
// (empty means a private namespace per container) and the parent cgroup.
type PodSandbox struct {
	ID    string `json:"id"` // also the name of the pod's cgroup
	NetNS string `json:"netns,omitempty"`
	IPCNS string `json:"ipcns,omitempty"`
	UTSNS string `json:"utsns,omitempty"`
	// HostNetwork: the containers share the node's network and UTS
	// namespaces (those of the runtime's process); NetNS and UTSNS are
	// empty then.
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// HostIPC: the node's IPC namespace (IPCNS empty); HostPID: every
	// container in the node's PID namespace instead of its own.
	HostIPC bool `json:"hostIPC,omitempty"`
	HostPID bool `json:"hostPID,omitempty"`
}

// ContainerSpec is one container, resolved: the agent has already applied
// the image config and Kubernetes' command/args semantics.
type ContainerSpec struct {
	ID      string     `json:"id"`
	Sandbox PodSandbox `json:"sandbox"`
	// Layers are unpacked image layer directories, bottom first; they are
	// mounted read-only under a per-container writable layer.
	Layers  []string  `json:"layers"`
	Args    []string  `json:"args"`
	Env     []string  `json:"env,omitempty"`
	Cwd     string    `json:"cwd,omitempty"` // "/" when empty
	UID     uint32    `json:"uid"`
	GID     uint32    `json:"gid"`
	LogPath string    `json:"logPath"` // stdout and stderr are appended here
	Limits  Resources `json:"limits"`
	// Privileged gives all capabilities and no masked paths; only when
	// the pod asks for it.
	Privileged bool `json:"privileged,omitempty"`
	// Mounts are bind mounts (volumes, /etc/hosts, /etc/resolv.conf) made
	// after the runtime's own, in order.
	Mounts []Mount `json:"mounts,omitempty"`
	// Seccomp is the container's system call filter; the zero value is
	// the runtime's default profile. Privileged containers run unconfined.
	Seccomp Seccomp `json:"seccomp,omitzero"`
}

// Seccomp selects a container's seccomp profile, as Kubernetes'
// securityContext.seccompProfile does.
type Seccomp struct {
	Type SeccompType `json:"type,omitempty"`
	// LocalhostProfile is the profile's file, for SeccompLocalhost (the
	// agent resolves the pod's relative path under the node's profile
	// directory): OCI seccomp JSON (defaultAction, architectures,
	// syscalls), which Docker's profile format also reads as.
	LocalhostProfile string `json:"localhostProfile,omitempty"`
}

// SeccompType is the kind of profile; the empty type is the default.
type SeccompType string

const (
	SeccompRuntimeDefault SeccompType = "RuntimeDefault"
	SeccompUnconfined     SeccompType = "Unconfined"
	SeccompLocalhost      SeccompType = "Localhost"
)

// Mount binds a host path (file or directory) into the container.
type Mount struct {
	Source      string `json:"source"`
	Destination string `json:"destination"` // absolute, inside the container
	ReadOnly    bool   `json:"readOnly,omitempty"`
}

// Execer runs an extra process inside a running container (exec probes,
// kubectl exec). Runtimes that can implement it.
type Execer interface {
	// Exec runs args in container id and returns its exit code and
	// combined output (truncated to a few KiB).
	Exec(ctx context.Context, id string, args []string) (code int, output []byte, err error)
}

// StreamExecer runs an interactive process inside a running container
// (kubectl exec). Runtimes that can implement it.
type StreamExecer interface {
	// ExecStream runs p in container id and returns its exit code once it
	// has ended and its output is written; ctx ending kills it.
	ExecStream(ctx context.Context, id string, p ExecProcess) (code int, err error)
}

// ExecProcess is an interactive process: nil streams are /dev/null.
type ExecProcess struct {
	Args           []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// TTY runs the process on a terminal of its own: stdin goes to it,
	// everything it prints comes back on Stdout (Stderr is unused), and
	// the end of Stdin is typed as ^D. Resize sets its size.
	TTY    bool
	Resize <-chan TerminalSize
	// Started, when set, is called once the process runs.
	Started func()
}

// TerminalSize is a terminal's size in characters.
type TerminalSize struct {
	Width, Height uint16
}

// Resources are the cgroup limits of one container; zero means unlimited.
type Resources struct {
	MemoryBytes int64  `json:"memoryBytes,omitempty"`
	CPUShares   uint64 `json:"cpuShares,omitempty"`  // from the CPU request (1 CPU = 1024)
	CPUQuotaUS  int64  `json:"cpuQuotaUs,omitempty"` // from the CPU limit, per CPUPeriodUS
	CPUPeriodUS uint64 `json:"cpuPeriodUs,omitempty"`
	Pids        int64  `json:"pids,omitempty"`
}

// Status is where a container is in its life.
type Status string

const (
	Created Status = "created"
	Running Status = "running"
	Exited  Status = "exited"
	Unknown Status = "unknown" // state could not be read; Delete still works
)

// State is a container as the runtime sees it now.
type State struct {
	ID         string
	SandboxID  string
	Status     Status
	Pid        int
	CreatedAt  time.Time
	StartedAt  time.Time   // zero until started
	FinishedAt time.Time   // zero until exited
	Exit       *ExitStatus // set once Exited
}

// ExitStatus is how a container's process ended.
type ExitStatus struct {
	Code      int            // exit code, or 128+signal as shells and Kubernetes report it
	Signal    syscall.Signal // the killing signal, if any
	OOMKilled bool           // the kernel's OOM killer killed a process of the container
	// CodeUnknown is set when the process ended while no runtime instance
	// was its parent (an agent restart) and its exit code could not be
	// recovered otherwise (libct: no record from the log shim).
	CodeUnknown bool
}

var (
	ErrNotFound = errors.New("container not found")
	ErrExists   = errors.New("container already exists")
	// ErrState is returned for an operation the container's status does
	// not allow (Start twice, Delete while running).
	ErrState = errors.New("invalid container state for this operation")
)

var validID = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`)

// Validate checks what every implementation requires of a spec.
func (s *ContainerSpec) Validate() error {
	switch {
	case !validID.MatchString(s.ID) || s.ID == "." || s.ID == "..":
		return fmt.Errorf("container id %q: want 1-128 of [a-zA-Z0-9_.-]", s.ID)
	case !validID.MatchString(s.Sandbox.ID):
		return fmt.Errorf("sandbox id %q: want 1-128 of [a-zA-Z0-9_.-]", s.Sandbox.ID)
	case len(s.Args) == 0:
		return errors.New("container has no command")
	case s.LogPath == "":
		return errors.New("container has no log path")
	}
	switch s.Seccomp.Type {
	case "", SeccompRuntimeDefault, SeccompUnconfined, SeccompLocalhost:
	default:
		return fmt.Errorf("unknown seccomp profile type %q", s.Seccomp.Type)
	}
	return nil
}
