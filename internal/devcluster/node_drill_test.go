package devcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
)

// cutNode is drill 4: the node running the StatefulSet's first pod loses
// its link. Its pods must be marked (the node tainted unreachable),
// evicted after their 5 s toleration and replaced on the other nodes;
// when the link returns, the node's stale pods must be stopped, and at no
// moment may two nodes hold a copy of the same StatefulSet pod.
func (e *drillEnv) cutNode(ctx context.Context) error {
	t := e.t
	ns := e.load.ns
	cs := e.clients[0]
	st0, err := cs.CoreV1().Pods(ns).Get(ctx, "st-0", metav1.GetOptions{})
	if err != nil {
		return err
	}
	node := st0.Spec.NodeName
	fence := e.watchFencing(ctx)
	defer fence.stop()

	onNode, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return err
	}
	t.Logf("cutting node %s off (it runs st-0 and %d pods in all)", node, len(onNode.Items))
	cut := time.Now()
	if err := e.c.SetLink(node, false); err != nil {
		return err
	}
	var marked, evicted, replaced time.Duration
	deadline := cut.Add(150 * time.Second)
	for time.Now().Before(deadline) && replaced == 0 {
		time.Sleep(500 * time.Millisecond)
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			continue
		}
		if marked == 0 && hasTaint(n, "node.kubernetes.io/unreachable") {
			marked = time.Since(cut)
			t.Logf("node %s tainted unreachable after %s", node, marked.Round(100*time.Millisecond))
		}
		if marked != 0 && evicted == 0 && e.allEvicted(ctx, onNode.Items) {
			evicted = time.Since(cut)
			t.Logf("every pod of %s evicted after %s", node, evicted.Round(100*time.Millisecond))
		}
		if evicted != 0 && e.deploymentsOffNode(ctx, node) {
			replaced = time.Since(cut)
			t.Logf("every Deployment available again without %s after %s", node, replaced.Round(100*time.Millisecond))
		}
	}
	if replaced == 0 {
		e.c.SetLink(node, true)
		return fmt.Errorf("node %s: marked after %s, evicted after %s, Deployments not replaced within 150s", node, marked, evicted)
	}
	if err := e.c.SetLink(node, true); err != nil {
		return err
	}
	back := time.Now()
	// The returning agent stops what is no longer its own.
	for {
		stale := e.staleSandboxes(ctx, node)
		if len(stale) == 0 {
			t.Logf("node %s back: its stale pods stopped after %s", node, time.Since(back).Round(100*time.Millisecond))
			break
		}
		if time.Since(back) > 90*time.Second {
			return fmt.Errorf("node %s back for 90s, still holds stale pods %v", node, stale)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// st-0 comes back (a new pod: the old one is gone only once its node
	// confirmed it stopped).
	for {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "st-0", metav1.GetOptions{})
		if err == nil && p.UID != st0.UID && p.Status.Phase == corev1.PodRunning {
			t.Logf("st-0 running again on %s, %s after the node came back", p.Spec.NodeName, time.Since(back).Round(100*time.Millisecond))
			break
		}
		if time.Since(back) > 90*time.Second {
			history := e.podHistory(ctx, ns, "st-0")
			e.dumpLeader(ctx, "controllers")
			return fmt.Errorf("st-0 not replaced 90s after node %s came back: %s", node, history)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if v := fence.violations(); len(v) > 0 {
		t.Errorf("two copies of a StatefulSet pod at once: %v", v)
	}
	return nil
}

// allEvicted: every one of pods is being deleted or gone.
func (e *drillEnv) allEvicted(ctx context.Context, pods []corev1.Pod) bool {
	for _, p := range pods {
		cur, err := e.clients[0].CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err == nil && cur.UID == p.UID && cur.DeletionTimestamp == nil {
			return false
		}
	}
	return true
}

func hasTaint(n *corev1.Node, key string) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key {
			return true
		}
	}
	return false
}

// deploymentsOffNode: every Deployment has all its replicas available and
// none of its live pods is on node.
func (e *drillEnv) deploymentsOffNode(ctx context.Context, node string) bool {
	cs := e.clients[0]
	for _, name := range deployments {
		d, err := cs.AppsV1().Deployments(e.load.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || d.Status.AvailableReplicas < *d.Spec.Replicas {
			return false
		}
		pods, err := cs.CoreV1().Pods(e.load.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName == node && p.DeletionTimestamp == nil {
				return false
			}
		}
	}
	return true
}

// staleSandboxes are the pod sandboxes on node whose pod is gone, being
// deleted, or bound elsewhere.
func (e *drillEnv) staleSandboxes(ctx context.Context, node string) []string {
	pods, err := e.clients[0].CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return []string{err.Error()}
	}
	onNode := map[string]bool{} // the pods node may still run
	for _, p := range pods.Items {
		if p.Spec.NodeName == node && p.DeletionTimestamp == nil {
			onNode[string(p.UID)] = true
		}
	}
	var stale []string
	dirs, _ := filepath.Glob(filepath.Join(e.c.Dir, "nodes", node, "sandboxes", "*"))
	for _, d := range dirs {
		if uid := filepath.Base(d); !onNode[uid] {
			stale = append(stale, uid)
		}
	}
	return stale
}

// fencing watches the nodes' pod sandboxes (what really runs there, not
// what the API says) for two copies of one StatefulSet pod.
type fencing struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	seen   []string
}

func (f *fencing) stop() { f.cancel(); <-f.done }
func (f *fencing) violations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen
}

func (e *drillEnv) watchFencing(ctx context.Context) *fencing {
	ctx, cancel := context.WithCancel(ctx)
	f := &fencing{cancel: cancel, done: make(chan struct{})}
	names := map[string]string{} // pod uid → name, kept after the pod is gone
	go func() {
		defer close(f.done)
		for ctx.Err() == nil {
			if pods, err := e.clients[0].CoreV1().Pods(e.load.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=st"}); err == nil {
				for _, p := range pods.Items {
					names[string(p.UID)] = p.Name
				}
			}
			where := map[string][]string{} // pod name → nodes holding a sandbox of it
			for _, a := range e.c.Agents {
				node := strings.TrimPrefix(a.Name, "agent-")
				dirs, _ := filepath.Glob(filepath.Join(e.c.Dir, "nodes", node, "sandboxes", "*"))
				for _, d := range dirs {
					if name, ok := names[filepath.Base(d)]; ok {
						if _, err := os.Stat(filepath.Join(d, "net")); err == nil {
							where[name] = append(where[name], node)
						}
					}
				}
			}
			for name, nodes := range where {
				if len(nodes) > 1 {
					f.mu.Lock()
					f.seen = append(f.seen, fmt.Sprintf("%s on %v at %s", name, nodes, time.Now().Format("15:04:05.000")))
					f.mu.Unlock()
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return f
}

// podHistory says what the API and the log know of a pod, for a failure.
func (e *drillEnv) podHistory(ctx context.Context, ns, name string) string {
	var b strings.Builder
	if p, err := e.clients[0].CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
		fmt.Fprintf(&b, "now: uid %s node %s phase %s deleting %v; ", p.UID, p.Spec.NodeName, p.Status.Phase, p.DeletionTimestamp != nil)
	} else {
		fmt.Fprintf(&b, "now: %v; ", err)
	}
	nc, err := e.natsConn()
	if err != nil {
		return b.String()
	}
	defer nc.Close()
	log, err := events.Open(ctx, nc, events.Config{KeepMaxAge: true, KeepMaxBytes: true})
	if err != nil {
		return b.String()
	}
	ref := events.Ref{Resource: "pods", Namespace: ns, Name: name}
	log.Read(ctx, 1, ref.Subject(), func(ev events.Event) error {
		var p corev1.Pod
		json.Unmarshal(ev.Data, &p)
		fmt.Fprintf(&b, "\n  seq %d %s %s by %s: uid %s node %s phase %s deleting %v", ev.Seq, strings.TrimPrefix(string(ev.Type), "io.wake.object."), ev.Change, ev.Actor,
			p.UID, p.Spec.NodeName, p.Status.Phase, p.DeletionTimestamp != nil)
		return nil
	})
	return b.String()
}

// dumpLeader makes the role's leader write its goroutines to its log (Go's
// SIGQUIT), for a failure; the supervisor restarts it.
func (e *drillEnv) dumpLeader(ctx context.Context, role string) {
	holder, err := e.leaseHolder(ctx, role)
	if err != nil {
		return
	}
	for _, p := range e.c.Procs() {
		if p.Name == holder {
			e.t.Logf("SIGQUIT to %s: its goroutines are in %s", p.Name, p.Log)
			p.Signal(syscall.SIGQUIT)
			time.Sleep(time.Second)
		}
	}
}
