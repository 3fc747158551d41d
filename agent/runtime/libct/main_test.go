package libct

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/agent/runtime"
	"github.com/wakehq/wake/agent/runtime/runtimetest"
	ti "github.com/wakehq/wake/internal/testimage"
)

func TestMain(m *testing.M) {
	Init() // the test binary is also every container's init
	if env := os.Getenv(agentHelperEnv); env != "" {
		runAgentHelper(env) // does not return
	}
	code := m.Run()
	if storeDir != "" {
		os.RemoveAll(storeDir)
	}
	os.Exit(code)
}

var (
	setupOnce  sync.Once
	storeDir   string
	testLayers []string
	testImage  *image.Image
)

// pulledImage pushes the test image to an in-process registry and pulls it
// into a store shared by the package's tests (once).
func pulledImage(t testing.TB) (*image.Image, []string) {
	t.Helper()
	ti.RequireRoot(t)
	setupOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wake-images-")
		if err != nil {
			t.Fatal(err)
		}
		storeDir = dir
		host := ti.Registry(t) // closed with t: pulled content stays in the store
		ref := ti.Push(t, host, "wake/tool:test", ti.Image(t))
		s, err := image.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if testImage, err = s.Pull(t.Context(), ref, nil, []string{host}); err != nil {
			t.Fatal(err)
		}
		testLayers = s.LayerDirs(testImage)
	})
	if testImage == nil {
		t.Fatal("test image setup failed in an earlier test")
	}
	return testImage, testLayers
}

// newSandbox makes a pod sandbox removed when the test ends.
func newSandbox(t testing.TB, dir, id string) runtime.PodSandbox {
	t.Helper()
	sb, err := NewSandbox(dir, id, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := RemoveSandbox(dir, sb); err != nil {
			t.Errorf("RemoveSandbox: %v", err)
		}
	})
	return sb
}

// specFor is a container of the test image running /bin/tool args.
func specFor(t testing.TB, sb runtime.PodSandbox, layers []string, id string, args ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		ID: id, Sandbox: sb, Layers: layers,
		Args:    append([]string{runtimetest.ToolPath}, args...),
		Env:     []string{"PATH=/bin", "HOME=/root"},
		Cwd:     "/tmp",
		LogPath: filepath.Join(t.TempDir(), id+".log"),
	}
}

// forceRemove kills and deletes a container a failed test left behind.
func forceRemove(r runtime.Runtime, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r.Kill(ctx, id, syscall.SIGKILL) == nil {
		r.Wait(ctx, id)
	}
	r.Delete(ctx, id)
}

func TestSuite(t *testing.T) {
	_, layers := pulledImage(t)
	runtimetest.Run(t, func(t *testing.T) runtimetest.Harness {
		state := t.TempDir()
		r, err := New(state)
		if err != nil {
			t.Fatal(err)
		}
		sandboxes := t.TempDir()
		n := 0
		return runtimetest.Harness{
			Runtime: r,
			Spec: func(t *testing.T, id string, args ...string) runtime.ContainerSpec {
				n++
				sb := newSandbox(t, sandboxes, fmt.Sprintf("pod-%s-%d", id, n))
				t.Cleanup(func() { forceRemove(r, id) }) // runs before the sandbox's removal
				return specFor(t, sb, layers, id, args...)
			},
			Reopen: func(t *testing.T) runtime.Runtime {
				r2, err := New(state)
				if err != nil {
					t.Fatal(err)
				}
				return r2
			},
		}
	})
}
