package libct

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wakehq/wake/agent/runtime"
)

// syncBuffer is output written by one goroutine and watched by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the output contains s.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(b.String(), s) {
			return
		}
	}
	t.Fatalf("output never had %q: %q", s, b.String())
}

// sleeper starts a container running `tool sleep` for exec tests.
func sleeper(t *testing.T) (*Runtime, string) {
	_, layers := pulledImage(t)
	r, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sb := newSandbox(t, t.TempDir(), "exec")
	spec := specFor(t, sb, layers, "exec-target", "sleep")
	t.Cleanup(func() { forceRemove(r, spec.ID) })
	if err := r.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context(), spec.ID); err != nil {
		t.Fatal(err)
	}
	return r, spec.ID
}

func TestExecTTY(t *testing.T) {
	r, id := sleeper(t)

	// The first size is the terminal's from the start; a later one is
	// applied to the running process (SIGWINCH).
	resize := make(chan runtime.TerminalSize, 1)
	resize <- runtime.TerminalSize{Width: 100, Height: 30}
	out := &syncBuffer{}
	done := make(chan error, 1)
	var code int
	go func() {
		var err error
		code, err = r.ExecStream(t.Context(), id, runtime.ExecProcess{
			Args: []string{"/bin/tool", "tty", "40", "120"}, Stdout: out, TTY: true, Resize: resize,
		})
		done <- err
	}()
	out.waitFor(t, "size 30 100")
	resize <- runtime.TerminalSize{Width: 120, Height: 40}
	if err := <-done; err != nil || code != 0 {
		t.Fatalf("tool tty: %d, %v: %q", code, err, out.String())
	}
	if got := out.String(); !strings.Contains(got, "tty /dev/pts/0\r\n") || !strings.Contains(got, "size 40 120") {
		t.Errorf("output %q", got)
	}

	// Stdin is typed on the terminal (and echoed); its end is ^D.
	out = &syncBuffer{}
	code, err := r.ExecStream(t.Context(), id, runtime.ExecProcess{
		Args: []string{"/bin/tool", "cat", "/dev/stdin"}, Stdin: strings.NewReader("typed\n"), Stdout: out, TTY: true,
	})
	if err != nil || code != 0 || strings.Count(out.String(), "typed") != 2 {
		t.Errorf("cat /dev/stdin on a terminal: %d, %v: %q", code, err, out.String())
	}
}

// No descriptor of the agent reaches an exec'd process either (runc's
// CVE-2024-21626 leaked one through exec), with or without a terminal.
func TestExecNoLeakedFDs(t *testing.T) {
	r, id := sleeper(t)
	for _, tty := range []bool{false, true} {
		out := &syncBuffer{}
		code, err := r.ExecStream(t.Context(), id, runtime.ExecProcess{Args: []string{"/bin/tool", "inspect"}, Stdout: out, TTY: tty})
		if err != nil || code != 0 {
			t.Fatalf("tty %v: %d, %v: %q", tty, code, err, out.String())
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
			t.Fatalf("tty %v: %v: %q", tty, err, out.String())
		}
		checkFDs(t, got["fds"].(map[string]any), func(fd, target string) bool {
			if tty {
				return target == "/dev/pts/0"
			}
			return target == "/dev/null" || strings.HasPrefix(target, "pipe:")
		})
		if got["NoNewPrivs"] != "1" || got["CapEff"] != "00000000a80425fb" {
			t.Errorf("tty %v: exec'd process NoNewPrivs %v CapEff %v", tty, got["NoNewPrivs"], got["CapEff"])
		}
		if SeccompSupported() && got["Seccomp"] != "2" {
			t.Errorf("tty %v: exec'd process seccomp mode %v, want 2 (filter)", tty, got["Seccomp"])
		}
	}
}

// toolFD is what the tool itself has open beyond stdio: the fd directory
// it reads, the cgroup CPU files Go's runtime keeps open to size
// GOMAXPROCS (v1 or v2), and its netpoller's epoll and eventfd. Anything
// else, like the cgroupfs directory runc leaked (CVE-2024-21626), fails.
var toolFD = regexp.MustCompile(`^(/proc/[0-9]+/fd|/sys/fs/cgroup/cpu(,cpuacct)?/cpu\.cfs_(quota|period)_us|/sys/fs/cgroup/cpu\.max|anon_inode:\[(eventpoll|eventfd)\])$`)

// checkFDs accepts 0-2 as stdio says and only the tool's own descriptors
// beyond.
func checkFDs(t *testing.T, fds map[string]any, stdio func(fd, target string) bool) {
	t.Helper()
	for fd, target := range fds {
		p := target.(string)
		switch fd {
		case "0", "1", "2":
			if !stdio(fd, p) {
				t.Errorf("fd %s → %v", fd, p)
			}
		default:
			if !toolFD.MatchString(p) {
				t.Errorf("leaked fd %s → %v", fd, p)
			}
		}
	}
}
