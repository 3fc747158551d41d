package devcluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	wakeBin   string // the wake binary every test cluster runs
	buildErr  error
	binDir    string
)

// wakeBinary builds the wake binary once per test process.
func wakeBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "wake-devcluster-bin")
		if buildErr != nil {
			return
		}
		wakeBin = filepath.Join(binDir, "wake")
		out, err := exec.Command("go", "build", "-o", wakeBin, "github.com/wakehq/wake/cmd/wake").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building wake: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return wakeBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: network namespaces, a bridge, containers; run the tests as root to exercise the cluster")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip command (apt-get install iproute2)")
	}
}

// TestStartClose starts a small cluster (one of each, one node) and checks
// that Close leaves nothing behind.
func TestStartClose(t *testing.T) {
	requireRoot(t)
	c, err := Start(t.Context(), Config{Dir: t.TempDir() + "/c", Wake: wakeBinary(t), Nodes: 1, NATSServers: 3, Gateways: 1, Schedulers: 1, Controllers: 1, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Kubeconfigs) != 1 {
		t.Fatalf("kubeconfigs %v", c.Kubeconfigs)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if left := c.Leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}
