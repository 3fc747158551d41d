package main

// `wake bench-sched` measures scheduling through the whole path: a real
// `wake up` child (fsync on), KWOK-style fake nodes registered through the
// API and kept alive by heartbeats from this process, then one Deployment
// whose pods must all be bound.
//
//	bench ──client-go/HTTPS──► child `wake up --nats-listen 127.0.0.1:PORT`
//	  │  Nodes, Deployment        deployment ctl → ReplicaSet ctl → pods
//	  │  watch pods ◄──────────── scheduler → bindings (all durable in the log)
//	  └── nats.go ──► KV WAKE_NODE_HEARTBEATS (lease.Beat per fake node)

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/services/lease"
	"github.com/wakehq/wake/services/scheduler"
)

// schedOptions say how big a cluster and Deployment to measure.
type schedOptions struct {
	exe        string
	nodes      int
	replicas   int
	workers    int           // concurrent node creators and heartbeaters
	beatEvery  time.Duration // heartbeat period of each fake node
	timeout    time.Duration // for every pod to be bound; 0 = from replicas
	profileDir string
	timeline   time.Duration // when set, print pods created and bound per this step
	out        io.Writer
}

func defaultSchedOptions() schedOptions {
	return schedOptions{nodes: 100, replicas: 1000, workers: 32, beatEvery: 15 * time.Second}
}

func (o *schedOptions) quick() { o.nodes, o.replicas = 20, 300 }

func runBenchSched(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench-sched", flag.ContinueOnError)
	o := defaultSchedOptions()
	fs.IntVar(&o.nodes, "nodes", o.nodes, "fake nodes registered through the API")
	fs.IntVar(&o.replicas, "replicas", o.replicas, "replicas of the one Deployment")
	fs.StringVar(&o.profileDir, "profile", "", "write a CPU profile of `wake up` during scheduling into this directory")
	fs.DurationVar(&o.timeline, "timeline", 0, "print pods created and bound in each step of this length")
	quick := fs.Bool("quick", false, "20 nodes × 300 replicas (explicit flags still win)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *quick {
		set := o
		o.quick()
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "nodes":
				o.nodes = set.nodes
			case "replicas":
				o.replicas = set.replicas
			}
		})
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	o.exe, o.out = exe, stdout
	figs, err := benchSched(ctx, o)
	printSummary(stdout, figs)
	return err
}

const schedNS = "bench-sched"

// schedRun is one scheduling benchmark in progress. It embeds a run so that
// the child, profiling and figure helpers of `wake bench` serve it too.
type schedRun struct {
	*run
	so       schedOptions
	natsAddr string
	js       jetstream.JetStream
	kv       jetstream.KeyValue
	nodes    []string
}

// benchSched starts the child, registers the nodes, creates the Deployment
// and times its pods until all are bound; it stops the child and removes
// its data whatever happens.
func benchSched(ctx context.Context, so schedOptions) (figs []figure, err error) {
	if so.out == nil {
		so.out = io.Discard
	}
	if so.nodes < 1 || so.replicas < 1 {
		return nil, errors.New("bench-sched needs at least one node and one replica")
	}
	if so.replicas > so.nodes*110 {
		return nil, fmt.Errorf("%d replicas do not fit on %d nodes of 110 pods", so.replicas, so.nodes)
	}
	if so.timeout == 0 {
		so.timeout = 60*time.Second + time.Duration(so.replicas)*20*time.Millisecond
	}
	dir, err := os.MkdirTemp("", "wake-bench-sched")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &schedRun{run: &run{o: benchOptions{exe: so.exe, profileDir: so.profileDir, out: so.out}, dir: dir}, so: so}
	defer func() {
		if r.child != nil {
			r.child.stop(15 * time.Second)
		}
		if err != nil && r.child != nil {
			err = fmt.Errorf("%w\nlast lines of wake up:\n%s", err, r.child.log.tail(20))
		}
	}()
	if r.listen, err = freeAddr(); err != nil {
		return nil, err
	}
	if r.natsAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	fmt.Fprintf(so.out, "wake bench-sched: %s up --data %s --listen %s --nats-listen %s (fsync on every append)\n",
		so.exe, dir, r.listen, r.natsAddr)
	fmt.Fprintf(so.out, "%d fake nodes (32 cpu, 256Gi, 110 pods), one Deployment of %d replicas (10m cpu, 16Mi)\n\n", so.nodes, so.replicas)
	if err := r.startSched(ctx); err != nil {
		return r.figs, fmt.Errorf("start: %w", err)
	}
	bctx, stopBeats := context.WithCancel(ctx)
	var beats sync.WaitGroup
	defer func() { stopBeats(); beats.Wait() }()
	if err := r.registerNodes(ctx); err != nil {
		return r.figs, fmt.Errorf("nodes: %w", err)
	}
	beats.Go(func() { r.keepBeating(bctx) })
	if err := r.profiled(ctx, "scheduling", r.schedule); err != nil {
		return r.figs, fmt.Errorf("scheduling: %w", err)
	}
	if err := r.replayDecisions(ctx); err != nil {
		return r.figs, fmt.Errorf("decisions: %w", err)
	}
	return r.figs, nil
}

// startSched runs the child with its NATS server listening, connects
// client-go and nats.go, and opens the heartbeat bucket.
func (r *schedRun) startSched(ctx context.Context) error {
	cmd := exec.Command(r.o.exe, "up", "--data", r.dir, "--listen", r.listen, "--nats-listen", r.natsAddr, "--agent=false")
	c := &child{cmd: cmd, log: &childLog{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.log, c.log
	cmd.Env = append(os.Environ(), r.profileEnv(false)...)
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	r.child = c
	kubeconfig, err := c.waitKubeconfig(ctx, 60*time.Second)
	if err != nil {
		return err
	}
	if r.cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		return err
	}
	r.cfg.QPS = -1
	if r.client, err = kubernetes.NewForConfig(r.cfg); err != nil {
		return err
	}
	if err := r.waitServing(ctx, r.client, 0); err != nil {
		return err
	}
	r.report(figure{name: "start (empty data dir)", value: ms(time.Since(c.started))})
	// The child's admin credentials, as any command beside it finds them.
	nf := natsFlags{url: "nats://" + r.natsAddr, dataDir: r.dir}
	nc, err := nf.connect("wake bench-sched")
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, nc.Close)
	if r.js, err = jetstream.New(nc); err != nil {
		return err
	}
	if r.kv, err = lease.OpenHeartbeats(ctx, r.js); err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: schedNS}}
	_, err = r.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	return err
}

// registerNodes creates the fake nodes through the API and gives each its
// first heartbeat.
func (r *schedRun) registerNodes(ctx context.Context) error {
	r.nodes = make([]string, r.so.nodes)
	for i := range r.nodes {
		r.nodes[i] = fmt.Sprintf("fake-%05d", i)
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods: resource.MustParse("110"),
	}
	t0 := time.Now()
	err := parallel(ctx, r.so.workers, len(r.nodes), func(i int) error {
		now := metav1.Now()
		name := r.nodes[i]
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				"kubernetes.io/hostname": name, "type": "kwok", "topology.kubernetes.io/zone": fmt.Sprint("zone-", i%3)}},
			Status: corev1.NodeStatus{
				Capacity: capacity, Allocatable: capacity,
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
					LastHeartbeatTime: now, LastTransitionTime: now}},
			},
		}
		if _, err := r.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return err
		}
		return lease.Beat(ctx, r.kv, name, time.Now())
	})
	if err != nil {
		return err
	}
	took := time.Since(t0)
	r.report(figure{name: fmt.Sprintf("register %d nodes (%d workers)", len(r.nodes), r.so.workers),
		value: fmt.Sprintf("%s, %.0f nodes/s (create + first heartbeat)", ms(took), float64(len(r.nodes))/took.Seconds())})
	return nil
}

// keepBeating heartbeats every node each beatEvery, spread over the period,
// until ctx ends: the node lifecycle controller would otherwise mark them
// Unknown after 40 s and evict their pods.
func (r *schedRun) keepBeating(ctx context.Context) {
	per := r.so.beatEvery / time.Duration(len(r.nodes))
	each := 1 // nodes per tick: ticks are at least a millisecond apart
	if per < time.Millisecond {
		each = int(time.Millisecond/max(per, 1)) + 1
		per = time.Millisecond
	}
	t := time.NewTicker(per)
	defer t.Stop()
	for i := 0; ; {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		for range each {
			if err := lease.Beat(ctx, r.kv, r.nodes[i], time.Now()); err != nil && ctx.Err() == nil {
				fmt.Fprintf(r.o.out, "  heartbeat: %v\n", err)
			}
			i = (i + 1) % len(r.nodes)
		}
	}
}

// podTimes are when this process saw a pod appear and get its node.
type podTimes struct{ added, bound time.Time }

// schedule creates the Deployment and watches its pods until every one is
// bound.
func (r *schedRun) schedule(ctx context.Context) error {
	pods := r.client.CoreV1().Pods(schedNS)
	l, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	want := r.so.replicas
	var (
		mu     sync.Mutex
		seen   = map[string]*podTimes{}
		nBound int
		all    = make(chan struct{})
	)
	observe := func(ev watch.Event, at time.Time) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || ev.Type == watch.Deleted {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		t := seen[p.Name]
		if t == nil {
			t = &podTimes{added: at}
			seen[p.Name] = t
		}
		if p.Spec.NodeName != "" && t.bound.IsZero() {
			t.bound = at
			if nBound++; nBound == want {
				close(all)
			}
		}
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchErr := make(chan error, 1)
	go func() { watchErr <- watchPods(wctx, r.client, l.ResourceVersion, observe) }()

	replicas := int32(want)
	labels := map[string]string{"app": "sched-bench"}
	requests := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "sched-bench"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox",
					Resources: corev1.ResourceRequirements{Requests: requests}}}},
			},
		},
	}
	t0 := time.Now()
	created, err := r.client.AppsV1().Deployments(schedNS).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	fromSeq, _ := strconv.ParseUint(created.ResourceVersion, 10, 64)
	timeout := time.NewTimer(r.so.timeout)
	defer timeout.Stop()
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	for done := false; !done; {
		select {
		case <-all:
			done = true
		case err := <-watchErr:
			return fmt.Errorf("pod watch: %w", err)
		case <-progress.C:
			mu.Lock()
			fmt.Fprintf(r.o.out, "  %5.1fs: %d pods seen, %d bound\n", time.Since(t0).Seconds(), len(seen), nBound)
			mu.Unlock()
		case <-timeout.C:
			mu.Lock()
			defer mu.Unlock()
			return fmt.Errorf("%d of %d pods bound (%d seen) after %s", nBound, want, len(seen), r.so.timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	stopWatch()
	mu.Lock()
	defer mu.Unlock()
	var lastAdded, lastBound, firstAdded time.Time
	lat := make([]time.Duration, 0, len(seen))
	for _, t := range seen {
		if firstAdded.IsZero() || t.added.Before(firstAdded) {
			firstAdded = t.added
		}
		lastAdded, lastBound = later(lastAdded, t.added), later(lastBound, t.bound)
		if !t.bound.IsZero() {
			lat = append(lat, t.bound.Sub(t.added))
		}
	}
	took := lastBound.Sub(t0)
	if r.so.timeline > 0 {
		printTimeline(r.o.out, t0, seen, r.so.timeline)
	}
	rate := float64(want) / took.Seconds()
	target, ok := "≥ 500 pods/s", rate >= 500
	if r.so.nodes <= 100 {
		target, ok = "≥ 1000 pods/s", rate >= 1000
	}
	r.report(figure{name: fmt.Sprintf("bind %d pods on %d nodes", want, r.so.nodes),
		value: fmt.Sprintf("%.0f pods/s (%s)", rate, secs(took)), target: target, verdict: verdict(ok)})
	r.report(figure{name: "  deployment created → first pod", value: secs(firstAdded.Sub(t0))})
	r.report(figure{name: "  deployment created → last pod created", value: fmt.Sprintf("%s (%.0f pods/s)",
		secs(lastAdded.Sub(t0)), float64(len(seen))/lastAdded.Sub(t0).Seconds())})
	r.report(figure{name: "  pod created → bound (as watched)", value: percentiles(lat).String()})
	if err := r.logSummary(ctx, fromSeq, t0); err != nil {
		return err
	}
	if rss, hwm, err := procMemory(r.child.pid()); err == nil {
		r.report(figure{name: "  RSS of wake up after", value: fmt.Sprintf("%s (peak %s)", mb(rss), mb(hwm))})
	}
	return nil
}

// replayDecisions times one scheduling decision: the bound pods are decided
// again, in creation order, by the scheduler's own Schedule against a
// snapshot of the same nodes, in this process (the child's decisions carry
// no timing). It also checks that no node holds more than its capacity.
func (r *schedRun) replayDecisions(ctx context.Context) error {
	nl, err := r.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	pl, err := r.client.CoreV1().Pods(schedNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	perNode := map[string]int{}
	nodes := make([]*corev1.Node, len(nl.Items))
	for i := range nl.Items {
		nodes[i] = &nl.Items[i]
	}
	pods := make([]*corev1.Pod, 0, len(pl.Items))
	for i := range pl.Items {
		p := &pl.Items[i]
		if p.Spec.NodeName == "" {
			return fmt.Errorf("pod %s is not bound", p.Name)
		}
		perNode[p.Spec.NodeName]++
		p = p.DeepCopy()
		p.Spec.NodeName = ""
		pods = append(pods, p)
	}
	for n, c := range perNode {
		if c > 110 {
			return fmt.Errorf("node %s holds %d pods, more than its 110", n, c)
		}
	}
	slices.SortStableFunc(pods, func(a, b *corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	snap := scheduler.NewSnapshot(nodes, nil, nil)
	lat := make([]time.Duration, 0, len(pods))
	for i, p := range pods {
		t0 := time.Now()
		d := scheduler.Schedule(snap, p, string(p.UID)+"/"+strconv.Itoa(i))
		if d.Node == "" {
			return fmt.Errorf("replay: %s unschedulable: %s", p.Name, d.Message)
		}
		pi, err := scheduler.NewPodInfo(p, d.Priority)
		if err != nil {
			return err
		}
		snap.Assume(pi, d.Node)
		lat = append(lat, time.Since(t0))
	}
	spread := fmt.Sprintf("%d nodes used", len(perNode))
	r.report(figure{name: fmt.Sprintf("scheduling decision (%d, replayed)", len(lat)),
		value: fmt.Sprintf("p50 %.0f µs  p99 %.0f µs", us(percentiles(lat).p50), us(percentiles(lat).p99)), target: spread})
	return nil
}

// watchPods feeds every pod event of the namespace after rv to fn,
// watching again from the last resourceVersion when a watch ends.
func watchPods(ctx context.Context, client *kubernetes.Clientset, rv string, fn func(watch.Event, time.Time)) error {
	for {
		w, err := client.CoreV1().Pods(schedNS).Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for ev := range w.ResultChan() {
			at := time.Now()
			if ev.Type == watch.Error {
				w.Stop()
				return fmt.Errorf("watch error: %v", ev.Object)
			}
			if m, err := metaOf(ev.Object); err == nil {
				rv = m
			}
			if ev.Type != watch.Bookmark {
				fn(ev, at)
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return nil
		}
	}
}

func metaOf(o any) (string, error) {
	if m, ok := o.(metav1.Object); ok {
		return m.GetResourceVersion(), nil
	}
	return "", errors.New("no metadata")
}

// parallel runs fn(0) … fn(n-1) on workers goroutines; the first error
// stops the others.
func parallel(ctx context.Context, workers, n int, fn func(i int) error) error {
	var next atomic.Int64
	next.Store(-1)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1); i < int64(n) && ctx.Err() == nil; i = next.Add(1) {
				if err := fn(int(i)); err != nil {
					errs <- err
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func us(d time.Duration) float64 { return float64(d) / 1e3 }

// printTimeline prints how many pods appeared and got bound in each step
// after t0.
func printTimeline(w io.Writer, t0 time.Time, seen map[string]*podTimes, step time.Duration) {
	var added, bound []int
	bump := func(s *[]int, t time.Time) {
		i := int(t.Sub(t0) / step)
		for len(*s) <= i {
			*s = append(*s, 0)
		}
		(*s)[i]++
	}
	for _, t := range seen {
		bump(&added, t.added)
		if !t.bound.IsZero() {
			bump(&bound, t.bound)
		}
	}
	fmt.Fprintf(w, "  timeline (step %s): created / bound\n", step)
	for i := range max(len(added), len(bound)) {
		a, b := 0, 0
		if i < len(added) {
			a = added[i]
		}
		if i < len(bound) {
			b = bound[i]
		}
		fmt.Fprintf(w, "  %7.2fs %6d %6d\n", (time.Duration(i) * step).Seconds(), a, b)
	}
}

// logSummary reads the log from the Deployment's creation to its end and
// reports its events by actor (and, with -timeline, by actor per step of
// their server timestamps).
func (r *schedRun) logSummary(ctx context.Context, from uint64, t0 time.Time) error {
	cons, err := r.js.OrderedConsumer(ctx, events.StreamName, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
	if err != nil {
		return err
	}
	type key struct {
		step  int
		actor string
	}
	steps := map[key]int{}
	total, size := map[string]int{}, map[string]int{}
	n, last := 0, 0
	for {
		msgs, err := cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return err
		}
		got := 0
		pending := uint64(0)
		for m := range msgs.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			pending = md.NumPending
			actor := "?"
			if ev, err := events.Decode(m.Subject(), m.Headers(), m.Data(), md.Sequence.Stream); err == nil {
				actor = strings.TrimPrefix(strings.TrimPrefix(ev.Actor, "system:controller:"), "system:")
				if ev.Ref.Resource == "events" {
					actor += " (Event objects)"
				}
			}
			total[actor]++
			size[actor] += len(m.Data()) + headerSize(m.Headers())
			n++
			if r.so.timeline > 0 {
				i := int(md.Timestamp.Sub(t0) / r.so.timeline)
				steps[key{i, actor}]++
				last = max(last, i)
			}
		}
		if msgs.Error() != nil && !errors.Is(msgs.Error(), jetstream.ErrNoHeartbeat) {
			return msgs.Error()
		}
		if got == 0 || pending == 0 {
			break
		}
	}
	actors := slices.Sorted(maps.Keys(total))
	var by []string
	for _, a := range actors {
		by = append(by, fmt.Sprintf("%s %d (%d B)", a, total[a], size[a]/total[a]))
	}
	r.report(figure{name: "  log events appended", value: fmt.Sprintf("%d (%.1f per pod)", n, float64(n)/float64(r.so.replicas))})
	r.report(figure{name: "  by actor", value: strings.Join(by, ", ")})
	if r.so.timeline > 0 {
		fmt.Fprintf(r.o.out, "  log timeline (step %s): %s\n", r.so.timeline, strings.Join(actors, " | "))
		for i := 0; i <= last; i++ {
			line := fmt.Sprintf("  %7.2fs", (time.Duration(i) * r.so.timeline).Seconds())
			for _, a := range actors {
				line += fmt.Sprintf(" %6d", steps[key{i, a}])
			}
			fmt.Fprintln(r.o.out, line)
		}
	}
	return nil
}

func headerSize(h nats.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
