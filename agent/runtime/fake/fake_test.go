package fake_test

import (
	"path/filepath"
	"testing"

	"github.com/wakehq/wake/agent/runtime"
	"github.com/wakehq/wake/agent/runtime/fake"
	"github.com/wakehq/wake/agent/runtime/runtimetest"
)

func TestSuite(t *testing.T) {
	runtimetest.Run(t, func(t *testing.T) runtimetest.Harness {
		node := fake.NewNode(map[string]fake.Program{runtimetest.ToolPath: runtimetest.ToolProgram}, nil)
		logs := t.TempDir()
		return runtimetest.Harness{
			Runtime: node.Open(),
			Spec: func(t *testing.T, id string, args ...string) runtime.ContainerSpec {
				return runtime.ContainerSpec{
					ID: id, Sandbox: runtime.PodSandbox{ID: "pod-" + id},
					Args: append([]string{runtimetest.ToolPath}, args...), LogPath: filepath.Join(logs, id+".log"),
				}
			},
			Reopen: func(t *testing.T) runtime.Runtime { return node.Open() },
		}
	})
}
