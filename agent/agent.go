package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wakehq/wake/agent/eviction"
	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/agent/network"
	"github.com/wakehq/wake/agent/proxy"
	"github.com/wakehq/wake/agent/runtime"
	"github.com/wakehq/wake/agent/runtime/libct"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// DefaultPodCIDR is the pod CIDR the node IPAM controller gives the first
// node of the default cluster CIDR (`wake up` on one machine).
const DefaultPodCIDR = "10.244.0.0/24"

// Config is one agent.
type Config struct {
	NodeName string
	StateDir string // images, runtime state, sandboxes, pods, address leases
	Log      *events.Log
	View     *projections.Projection
	// Runtime defaults to libct in StateDir/runtime; Images to a store in
	// StateDir/images.
	Runtime runtime.Runtime
	Images  *image.Store
	// InsecureRegistries (host:port) are reached over plain HTTP.
	InsecureRegistries []string
	// PodCIDR is written into the node's spec.podCIDR when it has none
	// (`wake agent --pod-cidr`); empty, the agent waits until the node IPAM
	// controller gives the node one. The node's own always wins.
	PodCIDR string
	// ClusterCIDR is every node's pods (default DefaultClusterCIDR): pod
	// traffic to other addresses is masqueraded.
	ClusterCIDR string
	// NodeIP is the node's InternalIP in its status (default: the address
	// of the default route's interface); other nodes route this node's
	// pod CIDR to it.
	NodeIP string
	// NodeRoutes keeps a route to every other node's pod CIDR via its
	// InternalIP (host-gateway); off by default, it needs root.
	NodeRoutes bool
	// ClusterDNS serves cluster DNS on the bridge address, port 53, and
	// points ClusterFirst pods' resolv.conf at it; off by default (pods
	// then use the node's resolvers). ClusterDomain defaults to
	// DefaultClusterDomain.
	ClusterDNS    bool
	ClusterDomain string
	Bridge        string // network.DefaultBridge when empty
	// ProtectedPaths never reach a container through hostPath (the NATS
	// data directory); StateDir is always protected.
	ProtectedPaths []string
	Version        string // reported as the container runtime's version
	// HeartbeatPeriod defaults to 10s.
	HeartbeatPeriod time.Duration
	// BackoffBase and BackoffMax bound restart and pull back-off
	// (default 10s and 5m, the kubelet's).
	BackoffBase, BackoffMax time.Duration
	Logger                  *slog.Logger
	Now                     func() time.Time
	// ServiceProxy programs ClusterIP and NodePort rules into the node's
	// nftables (agent/proxy); off by default, it needs root.
	ServiceProxy bool
	// ProxyTable is the proxy's nftables table (default proxy.TableName);
	// end-to-end tests use their own beside a node's real agent.
	ProxyTable string
	// Pressure are the thresholds of the node's pressure conditions
	// (agent/eviction); Measure reads the signals (default
	// eviction.Measure).
	Pressure eviction.Thresholds
	// EvictionPeriod is how often local storage limits and memory, disk
	// and PID pressure are checked for an eviction (agent/eviction;
	// default eviction.DefaultPeriod).
	EvictionPeriod time.Duration
	Measure        func(stateDir string) eviction.Measures
	// MetricsResolution is how often usage is sampled for the resource
	// metrics API (metrics.go; default DefaultMetricsResolution).
	MetricsResolution time.Duration
	// ImageGC removes images no pod of the node uses when the state
	// directory's file system fills up (imagegc.go; kubelet defaults).
	ImageGC image.GCPolicy
}

// Agent is the node agent; see the package doc and README.md.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	machine Machine
	rt      runtime.Runtime
	images  *image.Store
	net     *network.Network
	dns     clusterResolver // pods' resolv.conf under ClusterFirst; set in Run
	writer  events.Writer   // as the node; every append waits for the view

	eviction *eviction.Manager // pressure conditions and evictions (eviction.go)

	pullMu sync.Mutex
	pulls  map[string]*pullCall // one pull per reference at a time

	mu       sync.Mutex
	workers  map[string]*podWorker // by pod uid
	finished map[string]bool       // uids whose worker is done (terminating pods held by finalizers)
	wg       sync.WaitGroup
}

// New checks cfg and fills defaults; Run does the work.
func New(cfg Config) (*Agent, error) {
	if cfg.NodeName == "" || cfg.StateDir == "" || cfg.Log == nil || cfg.View == nil {
		return nil, errors.New("agent: NodeName, StateDir, Log and View are required")
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = DefaultClusterCIDR
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = DefaultClusterDomain
	}
	if err := checkNetworkConfig(cfg); err != nil {
		return nil, err
	}
	if cfg.HeartbeatPeriod <= 0 {
		cfg.HeartbeatPeriod = 10 * time.Second
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = 10 * time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	abs, err := filepath.Abs(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	cfg.StateDir = abs
	a := &Agent{
		cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName),
		workers: map[string]*podWorker{}, finished: map[string]bool{}, pulls: map[string]*pullCall{},
	}
	a.writer = events.Writer{Log: cfg.Log, Source: "wake/agent", Actor: "system:node:" + cfg.NodeName, Now: cfg.Now, Applied: cfg.View}
	a.eviction = a.newEvictionManager()
	return a, nil
}

func (a *Agent) now() time.Time { return a.cfg.Now() }

func (a *Agent) dir(parts ...string) string {
	return filepath.Join(append([]string{a.cfg.StateDir}, parts...)...)
}

// Run registers the node, then runs pods bound to it and heartbeats until
// ctx ends. Containers keep running when it returns; the next Run on the
// same state directory re-adopts them.
func (a *Agent) Run(ctx context.Context) error {
	if err := os.MkdirAll(a.cfg.StateDir, 0o700); err != nil {
		return err
	}
	select {
	case <-a.cfg.View.Ready():
	case <-ctx.Done():
		return nil
	}
	a.machine = MachineInfo(a.cfg.StateDir)
	if a.cfg.NodeIP != "" {
		a.machine.InternalIP = a.cfg.NodeIP
	}
	node, err := a.registerNode(ctx)
	if err != nil {
		return fmt.Errorf("agent: register node %s: %w", a.cfg.NodeName, err)
	}
	cidr, err := a.podCIDR(ctx, node)
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("agent: pod CIDR of node %s: %w", a.cfg.NodeName, err)
	}
	if a.net, err = network.New(a.cfg.Bridge, cidr, a.dir("network")); err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if a.rt = a.cfg.Runtime; a.rt == nil {
		if a.rt, err = libct.New(a.dir("runtime")); err != nil {
			return fmt.Errorf("agent: runtime: %w", err)
		}
	}
	if a.images = a.cfg.Images; a.images == nil {
		if a.images, err = image.Open(a.dir("images")); err != nil {
			return fmt.Errorf("agent: images: %w", err)
		}
	}
	a.dns = a.clusterResolver()
	a.log.Info("agent running", "podCIDR", cidr, "state", a.cfg.StateDir)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.heartbeat(ctx) })
	g.Go(func() error { return a.pods(ctx) })
	g.Go(func() error { return a.logServer().Run(ctx) })
	g.Go(func() error { return a.imageServer().Run(ctx) })
	g.Go(func() error { return a.imageGC(ctx) })
	g.Go(func() error { return a.eviction.Run(ctx) })
	g.Go(func() error { return a.serveMetrics(ctx) })
	if a.cfg.ServiceProxy {
		p := proxy.New(proxy.Config{View: a.cfg.View, Logger: a.log, ClusterCIDR: a.cfg.ClusterCIDR, Table: a.cfg.ProxyTable,
			OnFailure: func(err error) {
				// Reported on the Node, off the proxy's goroutine.
				go a.nodeEvent(ctx, "FailedServiceRules", "service rules not updated, the previous rules stay live: "+err.Error())
			}})
		g.Go(func() error {
			// Without Service rules pods still run: report, do not stop the node.
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("service proxy stopped: ClusterIP and NodePort traffic is not forwarded on this node", "err", err)
			}
			return nil
		})
	}
	g.Go(func() error { return a.execServer().Run(ctx) })
	g.Go(func() error { return a.portForwardServer().Run(ctx) })
	if a.cfg.NodeRoutes {
		g.Go(func() error {
			if err := a.routes(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("routes to other nodes stopped: pods on other nodes are unreachable from here", "err", err)
			}
			return nil
		})
	}
	if a.cfg.ClusterDNS {
		g.Go(a.startClusterDNS(ctx))
	}
	err = g.Wait()
	a.wg.Wait()
	return err
}

// podRef is enough of a pod to route a change to its worker.
type podRef struct {
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
}

func (a *Agent) mine(o *projections.Object) bool {
	if o == nil || o.Ref.Resource != "pods" || o.Ref.Group != "" {
		return false
	}
	var p podRef
	return json.Unmarshal(o.Raw, &p) == nil && p.Spec.NodeName == a.cfg.NodeName
}

// pods starts a worker for every pod bound to the node and routes each
// change of such a pod to its worker.
func (a *Agent) pods(ctx context.Context) error {
	w, err := a.cfg.View.Watch(a.cfg.View.Seq())
	if err != nil {
		return err
	}
	live := a.resync(ctx)
	a.cleanupOrphans(ctx, live)
	for {
		changes, err := w.Next(ctx)
		if errors.Is(err, projections.ErrExpired) {
			if w, err = a.cfg.View.Watch(a.cfg.View.Seq()); err == nil {
				a.resync(ctx)
				continue
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, ch := range changes {
			switch {
			case ch.Type == projections.Deleted:
				a.kick(ch.Object.UID)
			case a.mine(ch.Object):
				a.ensureWorker(ctx, ch.Object)
			case ch.Prev != nil && a.mine(ch.Prev):
				a.kick(ch.Prev.UID) // unbound: the worker finds it gone
			case ch.Object.Ref.Group == "" && (ch.Object.Ref.Resource == "configmaps" || ch.Object.Ref.Resource == "secrets"):
				a.kickNamespace(ch.Object.Ref.Namespace) // their volumes follow
			}
		}
	}
}

// resync makes sure every pod of the node has a worker and returns their
// uids.
func (a *Agent) resync(ctx context.Context) map[string]bool {
	objs, _ := a.cfg.View.List("", "pods", "")
	live := map[string]bool{}
	for _, o := range admissionOrder(objs) { // admission decides in this order
		if a.mine(o) {
			live[o.UID] = true
			a.ensureWorker(ctx, o)
		}
	}
	return live
}

func (a *Agent) ensureWorker(ctx context.Context, o *projections.Object) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, ok := a.workers[o.UID]; ok {
		w.wake()
		return
	}
	if a.finished[o.UID] {
		return
	}
	w := newPodWorker(a, o)
	w.rejected = a.admitLocked(o)
	a.workers[o.UID] = w
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		w.run(ctx)
		a.mu.Lock()
		delete(a.workers, o.UID)
		if ctx.Err() == nil {
			a.finished[o.UID] = true
		}
		a.mu.Unlock()
	}()
}

// kickNamespace wakes the workers of the node's pods in ns.
func (a *Agent) kickNamespace(ns string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		if w.ref.Namespace == ns {
			w.wake()
		}
	}
}

func (a *Agent) kick(uid string) {
	a.mu.Lock()
	w := a.workers[uid]
	a.mu.Unlock()
	if w != nil {
		w.wake()
	}
}

// cleanupOrphans removes what belongs to pods no longer bound here:
// containers, sandboxes, addresses, pod directories left by a previous run
// whose pods were deleted while the agent was down.
func (a *Agent) cleanupOrphans(ctx context.Context, live map[string]bool) {
	uids := map[string]bool{}
	if ctrs, err := a.rt.List(ctx); err == nil {
		for _, c := range ctrs {
			if !live[c.SandboxID] {
				uids[c.SandboxID] = true
			}
		}
	}
	if ents, err := os.ReadDir(a.dir("pods")); err == nil {
		for _, e := range ents {
			if !live[e.Name()] {
				uids[e.Name()] = true
			}
		}
	}
	if leases, err := a.net.Leases(); err == nil {
		for _, id := range leases {
			if !live[id] {
				uids[id] = true
			}
		}
	}
	for uid := range uids {
		a.log.Info("removing a pod that is no longer bound here", "uid", uid)
		w := &podWorker{a: a, uid: uid}
		w.loadSandbox()
		w.terminate(ctx, 2*time.Second)
		if err := w.teardown(ctx); err != nil {
			a.log.Warn("orphan cleanup incomplete", "uid", uid, "err", err)
		}
	}
}

// append writes one decision as the node, then waits until the view has
// applied it.
func (a *Agent) append(ctx context.Context, ap reconcile.Append) (uint64, error) {
	ev, err := a.writer.Append(ctx, ap.Event, ap.Expect)
	if err != nil && ev.Seq == 0 {
		return 0, fmt.Errorf("append %s of %s: %w", ev.Type, ev.Ref, err)
	}
	return ev.Seq, err
}

// catchUp waits until the view has applied the whole log (after a
// conflict: the other writer's event).
func (a *Agent) catchUp(ctx context.Context) error {
	last, err := a.cfg.Log.LastSeq(ctx)
	if err != nil {
		return err
	}
	return a.cfg.View.WaitFor(ctx, last)
}

func isConflict(err error) bool { return errors.Is(err, events.ErrConflict) }

// logServer answers `kubectl logs` for the node's containers on NATS
// (agent/logs), on the event log's connection.
func (a *Agent) logServer() *logs.Server {
	return &logs.Server{
		NC: a.cfg.Log.JetStream().Conn(), Node: a.cfg.NodeName, PodsDir: a.dir("pods"),
		Logger: a.log,
	}
}
