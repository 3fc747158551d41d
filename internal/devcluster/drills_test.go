package devcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/internal/testimage"
	"github.com/wakehq/wake/services/lease"
)

// The fault drills of issue 7, against a whole local cluster under load.
// `go test` runs the reduced form (drills 1, 2, 3 and 6, a few seconds of
// load around each fault); WAKE_DRILLS=full (`task drills`) runs all six
// with longer load.
//
// After each drill: every acknowledged write is in the log and in every
// gateway's answers, no object was created twice, no pod bound twice,
// every Deployment converges to its replicas, and `wake replay --verify`
// agrees on every gateway.

// drillEnv is the test's view of the cluster.
type drillEnv struct {
	t       *testing.T
	c       *Cluster
	clients []*kubernetes.Clientset
	load    *load
	full    bool
	rows    []string
}

func TestDrills(t *testing.T) {
	requireRoot(t)
	full := os.Getenv("WAKE_DRILLS") == "full"
	dir := filepath.Join(t.TempDir(), "cluster")
	var registry string
	c, err := Start(t.Context(), Config{Dir: dir, Wake: wakeBinary(t), Auth: deployConf, Logf: t.Logf, Registry: func(hostIP string) (string, error) {
		registry = testimage.RegistryAt(t, hostIP+":0")
		return registry, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed && t.Failed() {
			keep, _ := os.MkdirTemp("", "wake-drills-logs-")
			exec.Command("cp", "-r", filepath.Join(dir, "logs"), keep).Run()
			t.Logf("the cluster's logs are in %s", keep)
		}
		if !closed {
			if err := c.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		}
	})
	image := testimage.Push(t, registry, "wake/tool:1", testimage.Image(t))
	e := &drillEnv{t: t, c: c, full: full}
	for _, k := range c.Kubeconfigs {
		e.clients = append(e.clients, clientFor(t, k))
	}
	ctx := t.Context()
	if err := e.waitNodesReady(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	workers := 2
	if full {
		workers = 4
	}
	e.load = newLoad("drill", image, e.clients, workers)
	if err := e.load.setup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.waitConverged(ctx, 120*time.Second); err != nil {
		t.Fatalf("before the drills: %v", err)
	}

	// WAKE_DRILLS=node runs drill 4 alone.
	nodeOnly := os.Getenv("WAKE_DRILLS") == "node"
	if !nodeOnly {
		e.drill("1 kill -9 a NATS server (the stream leader), restart it", e.killNATS)
		e.drill("2 kill -9 the active scheduler and controller manager", e.killLeaders)
		e.drill("3 kill -9 a gateway mid-requests", e.killGateway)
		e.drill("6 restart every process at once", e.restartAll)
	}
	if full || nodeOnly {
		e.drill("4 cut a node off (its netns link down), bring it back", e.cutNode)
	}
	if full {
		e.drill("5 partition a NATS server (the stream leader) from the others", e.partitionNATS)
	}

	if keep := os.Getenv("WAKE_DRILLS_LOGS"); keep != "" {
		if out, err := exec.Command("cp", "-r", filepath.Join(dir, "logs"), keep).CombinedOutput(); err != nil {
			t.Errorf("keeping the logs: %v: %s", err, out)
		}
	}
	t.Logf("\n%-66s %8s %7s %6s %8s %10s %6s %5s\n%s\n%s", "drill", "ops/s", "acked", "failed", "stall", "converge", "lost", "dups", strings.Join(e.rows, "\n"),
		"ops/s: acknowledged writes per second over the drill; stall: the longest time after the fault without an acknowledged write through one gateway;\n"+
			"converge: from the load's end until every Deployment, the StatefulSet and every node are back; lost and dups must be 0.")
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	closed = true
	if left := c.Leftovers(); len(left) > 0 {
		t.Errorf("left behind after Close: %v", left)
	}
}

func clientFor(t testing.TB, kubeconfig string) *kubernetes.Clientset {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	cfg.Timeout = 10 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// drill runs one fault under load and checks the invariants after it.
// fault returns when the fault is over (the killed process restarted, the
// link back up).
func (e *drillEnv) drill(name string, fault func(ctx context.Context) error) {
	t := e.t
	ctx := t.Context()
	warm, after := 3*time.Second, 6*time.Second
	if e.full {
		warm, after = 10*time.Second, 20*time.Second
	}
	t.Logf("drill %s", name)
	e.load.ops = nil
	from := time.Now()
	e.load.start()
	time.Sleep(warm)
	faultAt := time.Now()
	if err := fault(ctx); err != nil {
		e.load.stop()
		t.Fatalf("drill %s: fault: %v", name, err)
	}
	time.Sleep(after)
	e.load.stop()
	to := time.Now()
	convergedAt, err := e.waitConverged(ctx, 180*time.Second)
	if err != nil {
		t.Errorf("drill %s: not converged: %v", name, err)
	}
	f := e.load.figures(from, faultAt, to)
	lost, dups := e.verify(ctx, name)
	// The load scales and rolls the Deployments until it stops: they can
	// only converge after that.
	reconverge := "-"
	if err == nil {
		reconverge = convergedAt.Sub(to).Round(100 * time.Millisecond).String()
	}
	e.rows = append(e.rows, fmt.Sprintf("%-66s %8.1f %7d %6d %8s %10s %6d %5d", name, f.ackedPerSec, f.acked, f.failed,
		f.stall.Round(100*time.Millisecond), reconverge, lost, dups))
	var kinds []string
	for k, n := range f.failures {
		kinds = append(kinds, fmt.Sprintf("%d× %s", n, k))
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		e.rows = append(e.rows, "    failed, reported to the client: "+k)
	}
}

// --- faults ---

func (e *drillEnv) killNATS(ctx context.Context) error {
	i := e.streamLeader(ctx)
	p := e.c.NATS[i]
	e.t.Logf("kill -9 %s", p.Name)
	p.Kill()
	down := 3 * time.Second
	if e.full {
		down = 10 * time.Second
	}
	time.Sleep(down)
	if err := p.Start(); err != nil {
		return err
	}
	return p.WaitReady(30 * time.Second)
}

func (e *drillEnv) killLeaders(ctx context.Context) error {
	for _, role := range []struct {
		name  string
		procs []*Proc
	}{{"scheduler", e.c.Schedulers}, {"controllers", e.c.Controllers}} {
		holder, err := e.leaseHolder(ctx, role.name)
		if err != nil {
			return err
		}
		for _, p := range role.procs {
			if p.Name == holder {
				e.t.Logf("kill -9 %s (holds the %s lease)", p.Name, role.name)
				p.Crash()
			}
		}
	}
	return nil
}

func (e *drillEnv) killGateway(ctx context.Context) error {
	p := e.c.Gateways[0]
	e.t.Logf("kill -9 %s", p.Name)
	p.Crash()
	return nil
}

func (e *drillEnv) restartAll(ctx context.Context) error {
	procs := e.c.Procs()
	done := make(chan struct{})
	for _, p := range procs {
		go func() { p.Kill(); done <- struct{}{} }()
	}
	for range procs {
		<-done
	}
	e.t.Logf("killed all %d processes; starting them all at once", len(procs))
	for _, p := range procs {
		if err := p.Start(); err != nil {
			return err
		}
	}
	return nil
}

func (e *drillEnv) partitionNATS(ctx context.Context) error {
	name := e.c.NATS[e.streamLeader(ctx)].Name
	e.t.Logf("partition %s", name)
	if err := e.c.SetLink(name, false); err != nil {
		return err
	}
	time.Sleep(15 * time.Second)
	return e.c.SetLink(name, true)
}

// --- observations ---

// natsConn connects to the cluster through every server.
func (e *drillEnv) natsConn() (*nats.Conn, error) {
	return nats.Connect(e.c.NATSURL(), nats.Timeout(3*time.Second))
}

// streamLeader is the index of the NATS server that leads stream WAKE.
func (e *drillEnv) streamLeader(ctx context.Context) int {
	nc, err := e.natsConn()
	if err != nil {
		return 0
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil || s.CachedInfo().Cluster == nil {
		return 0
	}
	for i, p := range e.c.NATS {
		if p.Name == s.CachedInfo().Cluster.Leader {
			return i
		}
	}
	return 0
}

func (e *drillEnv) leaseHolder(ctx context.Context, name string) (string, error) {
	nc, err := e.natsConn()
	if err != nil {
		return "", err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	kv, err := js.KeyValue(ctx, lease.Bucket)
	if err != nil {
		return "", err
	}
	return lease.Holder(ctx, kv, name)
}

func (e *drillEnv) waitNodesReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		nodes, err := e.clients[0].CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		ready := 0
		if err == nil {
			for _, n := range nodes.Items {
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			if ready == len(e.c.Agents) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes Ready after %s (last error %v)", ready, len(e.c.Agents), within, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitConverged waits until every Deployment has all its replicas updated
// and available, every node is Ready and every process runs, and returns
// when that was first seen.
func (e *drillEnv) waitConverged(ctx context.Context, within time.Duration) (time.Time, error) {
	start := time.Now()
	deadline := start.Add(within)
	var why, last string
	for {
		why = e.notConverged(ctx)
		if why == "" {
			if d := time.Since(start); d > 2*time.Second {
				e.t.Logf("converged after %s; last waiting for: %s", d.Round(100*time.Millisecond), last)
			}
			return time.Now(), nil
		}
		last = why
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("after %s: %s", within, why)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (e *drillEnv) notConverged(ctx context.Context) string {
	for _, p := range e.c.Procs() {
		if !p.Running() {
			return p.Name + " is not running"
		}
	}
	for i, cs := range e.clients {
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Sprintf("gateway%d: %v", i+1, err)
		}
		for _, n := range nodes.Items {
			if !nodeReady(n) {
				return "node " + n.Name + " not Ready"
			}
		}
		for _, name := range deployments {
			d, err := cs.AppsV1().Deployments(e.load.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Sprintf("gateway%d: %v", i+1, err)
			}
			if why := deploymentNotDone(d); why != "" {
				return why
			}
		}
		st, err := cs.AppsV1().StatefulSets(e.load.ns).Get(ctx, "st", metav1.GetOptions{})
		if err != nil {
			return fmt.Sprintf("gateway%d: %v", i+1, err)
		}
		if st.Status.ReadyReplicas != *st.Spec.Replicas || st.Status.ObservedGeneration < st.Generation {
			return fmt.Sprintf("statefulset st: %d of %d ready", st.Status.ReadyReplicas, *st.Spec.Replicas)
		}
	}
	return ""
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func deploymentNotDone(d *appsv1.Deployment) string {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != want || s.AvailableReplicas != want || s.ReadyReplicas != want || s.Replicas != want {
		return fmt.Sprintf("deployment %s: want %d, generation %d observed %d, replicas %d updated %d ready %d available %d",
			d.Name, want, d.Generation, s.ObservedGeneration, s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas)
	}
	return ""
}

// verify checks the invariants and returns the number of lost writes and
// of duplicate actions (objects created twice, pods bound twice); each is
// also a test error.
func (e *drillEnv) verify(ctx context.Context, drill string) (lost, dups int) {
	t := e.t
	l := e.load
	l.mu.Lock()
	defer l.mu.Unlock()
	fail := func(counter *int, format string, args ...any) {
		*counter++
		t.Errorf("drill %s: "+format, append([]any{drill}, args...)...)
	}
	// Every gateway answers with what was acknowledged.
	for i, cs := range e.clients {
		cms, err := cs.CoreV1().ConfigMaps(l.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Errorf("drill %s: gateway%d: %v", drill, i+1, err)
			continue
		}
		have := map[string]string{}
		for _, cm := range cms.Items {
			have[cm.Name] = cm.Data["v"]
		}
		for name, st := range l.cms {
			v, ok := have[name]
			switch {
			case !ok && st.created:
				fail(&lost, "gateway%d: acknowledged ConfigMap %s is missing", i+1, name)
			case ok && !st.possible[v]:
				fail(&lost, "gateway%d: ConfigMap %s holds v=%s; acknowledged %v, possible %v", i+1, name, v, tail(st.acked), keys(st.possible))
			}
		}
		for _, name := range deployments {
			d, err := cs.AppsV1().Deployments(l.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Errorf("drill %s: gateway%d: %v", drill, i+1, err)
				continue
			}
			if r := fmt.Sprint(*d.Spec.Replicas); !l.reps[name].possible[r] {
				fail(&lost, "gateway%d: deployment %s has %s replicas; possible %v", i+1, name, r, keys(l.reps[name].possible))
			}
			if r := d.Spec.Template.Annotations["drill/rev"]; !l.revs[name].possible[r] {
				fail(&lost, "gateway%d: deployment %s at rev %s; possible %v", i+1, name, r, keys(l.revs[name].possible))
			}
		}
	}
	// The log holds every acknowledged write, no object was created twice
	// and no pod bound twice.
	nc, err := e.natsConn()
	if err != nil {
		t.Errorf("drill %s: nats: %v", drill, err)
		return
	}
	defer nc.Close()
	log, err := events.Open(ctx, nc, events.Config{KeepMaxAge: true, KeepMaxBytes: true})
	if err != nil {
		t.Errorf("drill %s: log: %v", drill, err)
		return
	}
	inLog := map[string]map[string]bool{} // ConfigMap → values
	alive := map[string]bool{}            // ref → exists
	bindings := map[string]int{}          // pod uid → binding events
	err = log.Read(ctx, 1, "", func(ev events.Event) error {
		ref := ev.Ref.String()
		switch ev.Type {
		case events.ObjectCreated:
			if alive[ref] {
				fail(&dups, "%s created twice (seq %d)", ref, ev.Seq)
			}
			alive[ref] = true
		case events.ObjectDeleted:
			delete(alive, ref)
		}
		if ev.Ref.Resource == "configmaps" && ev.Ref.Namespace == l.ns && ev.Type != events.ObjectDeleted {
			var cm corev1.ConfigMap
			json.Unmarshal(ev.Data, &cm)
			if inLog[ev.Ref.Name] == nil {
				inLog[ev.Ref.Name] = map[string]bool{}
			}
			inLog[ev.Ref.Name][cm.Data["v"]] = true
		}
		if ev.Ref.Resource == "pods" && ev.Change == events.ChangeBinding {
			var p corev1.Pod
			json.Unmarshal(ev.Data, &p)
			bindings[string(p.UID)]++
			if bindings[string(p.UID)] == 2 {
				fail(&dups, "pod %s (uid %s) bound twice (seq %d, to %s)", ref, p.UID, ev.Seq, p.Spec.NodeName)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("drill %s: reading the log: %v", drill, err)
	}
	for name, st := range l.cms {
		for _, v := range st.acked {
			if !inLog[name][v] {
				fail(&lost, "acknowledged ConfigMap %s v=%s is not in the log", name, v)
			}
		}
	}
	// wake replay --verify agrees on every gateway.
	// A transient failure (the log not reachable yet) is retried, and
	// reported; a mismatch is an error at once.
	for i, k := range e.c.Kubeconfigs {
		for try := 1; ; try++ {
			out, err := exec.CommandContext(ctx, wakeBin, "replay", "--verify", "--kubeconfig", k).CombinedOutput()
			if err == nil {
				break
			}
			if strings.Contains(string(out), "does not match") || try == 10 {
				t.Errorf("drill %s: wake replay --verify on gateway%d: %v\n%s", drill, i+1, err, out)
				break
			}
			t.Logf("drill %s: wake replay --verify on gateway%d, try %d: %s", drill, i+1, try, strings.TrimSpace(string(out)))
			time.Sleep(2 * time.Second)
		}
	}
	return lost, dups
}

func tail(s []string) []string {
	if len(s) > 3 {
		return s[len(s)-3:]
	}
	return s
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
