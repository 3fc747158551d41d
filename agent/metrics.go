package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/sync/errgroup"

	"github.com/wakehq/wake/agent/eviction"
	"github.com/wakehq/wake/agent/internal/natsserve"
	"github.com/wakehq/wake/agent/metrics"
	"github.com/wakehq/wake/agent/runtime"
)

// Resource metrics, as metrics-server gets them from each kubelet (agent/
// metrics has the protocol): every metrics resolution the agent samples
// the cumulative CPU time and the memory working set of the node, of each
// of its pods' cgroups and of each running container's, keeps the last two
// samples of each, and answers a request with the rates between them. They
// live in memory only; a restarted agent starts afresh.

// DefaultMetricsResolution is how often usage is sampled (metrics-server's
// --metric-resolution).
const DefaultMetricsResolution = 15 * time.Second

// usageSample is one reading of a cgroup.
type usageSample struct {
	at     time.Time
	cpu    uint64 // cumulative CPU time, nanoseconds
	memory int64  // working set, bytes
}

// usageRate is the usage between two samples: CPU in nanocores over the
// window between them, memory the latest working set. A window shorter
// than minWindow (or not positive: a clock step) gives no rate, nor does
// a counter that went back (a cgroup made anew under the same name): the
// next sample starts over from the later one.
func usageRate(prev, last usageSample, minWindow time.Duration) (metrics.Usage, bool) {
	window := last.at.Sub(prev.at)
	if window <= 0 || window < minWindow || last.cpu < prev.cpu {
		return metrics.Usage{}, false
	}
	// In floating point: the delta times 1e9 overflows 64 bits past ~18
	// CPU-seconds, a 15-second window on two busy cores.
	nanocores := float64(last.cpu-prev.cpu) / window.Seconds()
	return metrics.Usage{Timestamp: last.at, Window: window, CPU: uint64(nanocores), Memory: last.memory}, true
}

// usageSeries is the short history of one cgroup: its last two samples,
// all a rate needs.
type usageSeries struct {
	prev, last usageSample
	n          int
}

func (s *usageSeries) add(u usageSample) {
	s.prev, s.last = s.last, u
	s.n++
}

func (s *usageSeries) rate(minWindow time.Duration) (metrics.Usage, bool) {
	if s.n < 2 {
		return metrics.Usage{}, false
	}
	return usageRate(s.prev, s.last, minWindow)
}

// usageRound is one sampling of the node.
type usageRound struct {
	node *usageSample // nil: unreadable
	pods map[string]podRound
}

// podRound is a pod's cgroup and its running containers' (by runtime id:
// a restarted container is a new series).
type podRound struct {
	pod        usageSample
	containers map[string]containerRound
}

type containerRound struct {
	name  string
	usage usageSample
}

// usageStore holds the series of the node, its pods and their containers.
type usageStore struct {
	mu   sync.Mutex
	node usageSeries
	pods map[string]*podSeries // by uid
}

type podSeries struct {
	usageSeries
	containers map[string]*containerSeries // by runtime id
}

type containerSeries struct {
	name string
	usageSeries
}

// record adds a round; pods and containers it does not hold are gone and
// dropped with their history.
func (st *usageStore) record(r usageRound) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if r.node != nil {
		st.node.add(*r.node)
	}
	pods := make(map[string]*podSeries, len(r.pods))
	for uid, pr := range r.pods {
		ps := st.pods[uid]
		if ps == nil {
			ps = &podSeries{}
		}
		ps.add(pr.pod)
		ctrs := make(map[string]*containerSeries, len(pr.containers))
		for id, cr := range pr.containers {
			cs := ps.containers[id]
			if cs == nil {
				cs = &containerSeries{name: cr.name}
			}
			cs.add(cr.usage)
			ctrs[id] = cs
		}
		ps.containers = ctrs
		pods[uid] = ps
	}
	st.pods = pods
}

// answer is the reply to a checked request. A pod without a rate of its
// own or of any container is left out, as metrics-server leaves out a pod
// whose containers have no metrics yet.
func (st *usageStore) answer(req metrics.Request, minWindow time.Duration) metrics.Reply {
	st.mu.Lock()
	defer st.mu.Unlock()
	var r metrics.Reply
	if req.Node {
		if u, ok := st.node.rate(minWindow); ok {
			r.Node = &u
		}
	}
	uids := req.Pods
	if req.AllPods {
		uids = make([]string, 0, len(st.pods))
		for uid := range st.pods {
			uids = append(uids, uid)
		}
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	for _, uid := range uids {
		ps := st.pods[uid]
		if ps == nil {
			continue
		}
		u, ok := ps.rate(minWindow)
		if !ok {
			continue
		}
		pu := metrics.PodUsage{UID: uid, Usage: u}
		for _, cs := range ps.containers {
			if cu, ok := cs.rate(minWindow); ok {
				pu.Containers = append(pu.Containers, metrics.ContainerUsage{Name: cs.name, Usage: cu})
			}
		}
		if len(pu.Containers) == 0 {
			continue
		}
		slices.SortFunc(pu.Containers, func(a, b metrics.ContainerUsage) int { return cmp.Compare(a.Name, b.Name) })
		r.Pods = append(r.Pods, pu)
	}
	return r
}

// metricsResolution is the configured resolution or the default.
func (a *Agent) metricsResolution() time.Duration {
	if a.cfg.MetricsResolution > 0 {
		return a.cfg.MetricsResolution
	}
	return DefaultMetricsResolution
}

// serveMetrics samples every resolution and answers metrics requests on
// NATS until ctx ends.
func (a *Agent) serveMetrics(ctx context.Context) error {
	res := a.metricsResolution()
	// A window is a resolution apart, or more when sampling was late; a
	// much shorter one means the clock stepped.
	minWindow := res / 2
	st := &usageStore{}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		t := time.NewTicker(res)
		defer t.Stop()
		for {
			st.record(a.sampleUsage(ctx))
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	g.Go(func() error {
		err := natsserve.Serve(ctx, a.cfg.Log.JetStream().Conn(), metrics.Subject(a.cfg.NodeName), func(_ context.Context, m *nats.Msg) {
			respondMetrics(m, answerMetrics(st, m.Data, minWindow))
		})
		if err != nil {
			return fmt.Errorf("metrics: subscribe: %w", err)
		}
		return nil
	})
	return g.Wait()
}

// answerMetrics decodes and checks a request, then answers it.
func answerMetrics(st *usageStore, data []byte, minWindow time.Duration) metrics.Reply {
	if len(data) > metrics.MaxRequestLen {
		return metrics.Reply{Error: &metrics.Error{Reason: metrics.ReasonBadRequest, Message: fmt.Sprintf("metrics request of %d bytes, at most %d", len(data), metrics.MaxRequestLen)}}
	}
	var req metrics.Request
	if err := json.Unmarshal(data, &req); err != nil {
		return metrics.Reply{Error: &metrics.Error{Reason: metrics.ReasonBadRequest, Message: fmt.Sprintf("metrics request not understood: %v", err)}}
	}
	if err := req.Check(); err != nil {
		return metrics.Reply{Error: err.(*metrics.Error)}
	}
	return st.answer(req, minWindow)
}

func respondMetrics(m *nats.Msg, r metrics.Reply) {
	b, _ := json.Marshal(r)
	m.Respond(b)
}

// sampleUsage reads the node's cgroups: the root, each pod's (runtime/
// libct: /wake/<uid>) and each running container's (/wake/<uid>/<id>).
// A cgroup it cannot read is left out of the round.
func (a *Agent) sampleUsage(ctx context.Context) usageRound {
	at := a.now()
	r := usageRound{pods: map[string]podRound{}}
	if cpu, ok := nodeCPU(); ok {
		if mem, ok := nodeWorkingSet(); ok {
			r.node = &usageSample{at: at, cpu: cpu, memory: mem}
		}
	}
	byPod := map[string][]runtime.State{}
	if ctrs, err := a.rt.List(ctx); err == nil {
		for _, c := range ctrs {
			if c.Status == runtime.Running {
				byPod[c.SandboxID] = append(byPod[c.SandboxID], c)
			}
		}
	}
	for _, uid := range a.podUIDs() {
		pod, ok := cgroupUsage(filepath.Join("wake", uid), at)
		if !ok {
			continue
		}
		pr := podRound{pod: pod, containers: map[string]containerRound{}}
		newest := map[string]int{} // attempt per container name
		for _, c := range byPod[uid] {
			name, attempt, ok := parseContainerID(c.ID)
			if !ok {
				continue
			}
			if prev, seen := newest[name]; seen && prev > attempt {
				continue
			}
			u, ok := cgroupUsage(filepath.Join("wake", uid, c.ID), at)
			if !ok {
				continue
			}
			for id, cr := range pr.containers { // an older attempt not yet reaped
				if cr.name == name {
					delete(pr.containers, id)
				}
			}
			newest[name] = attempt
			pr.containers[c.ID] = containerRound{name: name, usage: u}
		}
		r.pods[uid] = pr
	}
	return r
}

// podUIDs are the uids of the pods the agent has workers for.
func (a *Agent) podUIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.workers))
	for uid := range a.workers {
		out = append(out, uid)
	}
	return out
}

func cgroupUsage(rel string, at time.Time) (usageSample, bool) {
	cpu, ok := cpuUsage(rel)
	if !ok {
		return usageSample{}, false
	}
	mem, ok := eviction.WorkingSet(rel)
	if !ok {
		return usageSample{}, false
	}
	return usageSample{at: at, cpu: cpu, memory: mem}, true
}
