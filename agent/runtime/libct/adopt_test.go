package libct

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wakehq/wake/agent/runtime"
)

// agentHelperEnv makes the test binary an agent that creates and starts
// one container, says "started" and waits to be killed (TestMain).
const agentHelperEnv = "WAKE_LIBCT_TEST_AGENT"

type agentHelper struct {
	State string
	Spec  runtime.ContainerSpec
}

func runAgentHelper(env string) {
	var h agentHelper
	if err := json.Unmarshal([]byte(env), &h); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	r, err := New(h.State)
	if err == nil {
		err = r.Create(context.Background(), h.Spec)
	}
	if err == nil {
		err = r.Start(context.Background(), h.Spec.ID)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("started")
	select {}
}

// A container that exits while no agent runs keeps its exit code: the log
// shim, which outlives the agent, records it for the next instance.
func TestExitWhileAgentDown(t *testing.T) {
	_, layers := pulledImage(t)
	state := t.TempDir()
	sb := newSandbox(t, t.TempDir(), "down")
	spec := specFor(t, sb, layers, "outlives-agent", "sleep")
	env, _ := json.Marshal(agentHelper{State: state, Spec: spec})
	agent := exec.Command("/proc/self/exe", "-test.run=^$")
	agent.Env = append(os.Environ(), agentHelperEnv+"="+string(env))
	out, err := agent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	agent.Process.Kill() // the agent dies; the container and its shim go on
	agent.Wait()
	if strings.TrimSpace(line) != "started" {
		t.Fatalf("agent helper: %q", line)
	}

	r, err := New(state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { forceRemove(r, spec.ID) })
	waitFile(t, spec.LogPath, "sleeping") // its SIGTERM handler is installed
	if err := r.Kill(t.Context(), spec.ID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exit, err := r.Wait(t.Context(), spec.ID)
	if err != nil || exit.CodeUnknown || exit.Code != 143 {
		t.Fatalf("exit seen after the agent's death: %+v, %v; want code 143", exit, err)
	}
	if st, _ := r.State(t.Context(), spec.ID); st.Status != runtime.Exited || st.Exit == nil || st.Exit.Code != 143 {
		t.Errorf("State: %+v", st)
	}
	if err := r.Delete(t.Context(), spec.ID); err != nil {
		t.Fatal(err)
	}
}

func waitFile(t *testing.T, path, s string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), s) {
			return
		}
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("%s never had %q: %q", path, s, b)
}
