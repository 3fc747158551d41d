package main

// `wake bench` measures the control-plane core the way a user meets it: a
// real `wake up` process (durable fsync, HTTPS, its own data directory) driven
// by client-go from this process, so that resident memory and restart time
// are the child's alone.
//
//	bench ──client-go/HTTPS──► child `wake up --data TMP --listen 127.0.0.1:PORT`
//	  │                           │
//	  └── /proc/PID/status ◄──────┘   (VmRSS)

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// benchOptions say what to measure and with how much.
type benchOptions struct {
	exe        string // the wake binary whose `up` is measured
	creates    int    // sequential ConfigMap creates
	updates    int    // updates timed to their watch event
	listPods   int    // pods held while timing LIST
	lists      int    // LISTs timed
	pods       int    // pods held for the RSS figure and the restart
	events     int    // events in the log before the restart
	workers    int    // concurrent pod creators
	patchers   int    // concurrent label patchers
	idle       time.Duration
	profileDir string // when set, a CPU profile of the child per phase
	out        io.Writer
}

func defaultBenchOptions() benchOptions {
	return benchOptions{creates: 2000, updates: 1000, listPods: 3000, lists: 20, pods: 10000, events: 100000,
		workers: 32, patchers: 64, idle: 2 * time.Second}
}

// quick shrinks the work to a smoke test of every phase.
func (o *benchOptions) quick() {
	o.creates, o.updates, o.listPods, o.lists, o.pods, o.events, o.idle = 50, 50, 200, 5, 400, 3000, 500*time.Millisecond
}

func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := defaultBenchOptions()
	fs.IntVar(&o.creates, "creates", o.creates, "sequential ConfigMap creates timed")
	fs.IntVar(&o.updates, "updates", o.updates, "ConfigMap updates timed to their watch event")
	fs.IntVar(&o.pods, "pods", o.pods, "pods held for the RSS figure and the restart")
	fs.IntVar(&o.events, "events", o.events, "events in the log before the restart")
	fs.StringVar(&o.profileDir, "profile", "", "write a CPU profile of `wake up` per phase into this directory")
	quick := fs.Bool("quick", false, "small numbers: a smoke test of every phase (explicit flags still win)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *quick {
		set := o
		o.quick()
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "creates":
				o.creates = set.creates
			case "updates":
				o.updates = set.updates
			case "pods":
				o.pods = set.pods
			case "events":
				o.events = set.events
			}
		})
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	o.exe, o.out = exe, stdout
	figs, err := bench(ctx, o)
	printSummary(stdout, figs)
	return err
}

// figure is one measured result and how it compares with its target.
type figure struct {
	name, value, target string
	verdict             string // PASS, MISS, or "" for information
}

func (f figure) line() string {
	return strings.TrimRight(fmt.Sprintf("%-44s %-46s %-12s %s", f.name, f.value, f.target, f.verdict), " ")
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// run is one benchmark in progress: the child, the clients, the figures.
type run struct {
	o      benchOptions
	dir    string
	listen string
	child  *child
	cfg    *rest.Config
	client *kubernetes.Clientset
	figs   []figure
}

const benchNS = "bench"

// bench starts `o.exe up` on a fresh data directory, measures every figure,
// and stops the child and removes the directory whatever happens.
func bench(ctx context.Context, o benchOptions) (figs []figure, err error) {
	if o.out == nil {
		o.out = io.Discard
	}
	if o.creates < 1 || o.updates < 1 || o.lists < 1 || o.listPods < 1 || o.pods < o.listPods {
		return nil, fmt.Errorf("bench needs at least one create, update and list, and -pods ≥ %d (the pods listed)", o.listPods)
	}
	dir, err := os.MkdirTemp("", "wake-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	r := &run{o: o, dir: dir}
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
	fmt.Fprintf(o.out, "wake bench: %s up --data %s --listen %s (fsync on every append)\n\n", o.exe, dir, r.listen)
	phases := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"start", r.start},
		{"idle", r.idleRSS},
		{"create", r.createLatency},
		{"watch", r.watchLatency},
		{"list", r.list},
		{"pods", r.holdPods},
		{"events", r.fillLog},
		{"restart", r.restart},
	}
	for _, p := range phases {
		if err := r.profiled(ctx, p.name, p.fn); err != nil {
			return r.figs, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return r.figs, nil
}

func (r *run) report(f figure) {
	r.figs = append(r.figs, f)
	fmt.Fprintln(r.o.out, f.line())
}

func printSummary(w io.Writer, figs []figure) {
	if len(figs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nsummary\n%-44s %-46s %-12s %s\n", "figure", "measured", "target", "")
	for _, f := range figs {
		fmt.Fprintln(w, f.line())
	}
}

// start runs the child and connects client-go to it.
func (r *run) start(ctx context.Context) error {
	c, err := startChild(r.o.exe, r.dir, r.listen, r.profileEnv(false))
	if err != nil {
		return err
	}
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
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNS}}
	_, err = r.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	return err
}

func (r *run) idleRSS(ctx context.Context) error {
	if err := sleep(ctx, r.o.idle); err != nil {
		return err
	}
	rss, _, err := procMemory(r.child.pid())
	if err != nil {
		return err
	}
	r.report(figure{name: "RSS idle", value: mb(rss), target: "< 120 MB", verdict: verdict(rss < 120<<20)})
	return nil
}

func (r *run) createLatency(ctx context.Context) error {
	cms := r.client.CoreV1().ConfigMaps(benchNS)
	lat := make([]time.Duration, 0, r.o.creates)
	for i := range r.o.creates {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("cm-", i)}, Data: map[string]string{"k": "v"}}
		t0 := time.Now()
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return err
		}
		lat = append(lat, time.Since(t0))
	}
	p := percentiles(lat)
	r.report(figure{name: fmt.Sprintf("create latency (%d sequential)", r.o.creates),
		value: p.String(), target: "p99 < 8 ms", verdict: verdict(p.p99 < 8*time.Millisecond)})
	return nil
}

// watchLatency times, for each update, from just before sending it to the
// arrival of its MODIFIED event on a watch opened beforehand.
func (r *run) watchLatency(ctx context.Context) error {
	cms := r.client.CoreV1().ConfigMaps(benchNS)
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watched"}, Data: map[string]string{"n": "0"}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: cm.ResourceVersion})
	if err != nil {
		return err
	}
	defer w.Stop()
	arrivals := make(chan arrival, 1024)
	go receive(w, arrivals)
	var upd, delivery []time.Duration
	for i := range r.o.updates {
		cm.Data["n"] = strconv.Itoa(i + 1)
		t0 := time.Now()
		if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			return err
		}
		upd = append(upd, time.Since(t0))
		at, err := awaitRV(ctx, arrivals, cm.ResourceVersion)
		if err != nil {
			return err
		}
		delivery = append(delivery, at.Sub(t0))
	}
	pw, pu := percentiles(delivery), percentiles(upd)
	r.report(figure{name: fmt.Sprintf("update-to-watch (%d updates)", r.o.updates),
		value: pw.String(), target: "p99 < 5 ms", verdict: verdict(pw.p99 < 5*time.Millisecond)})
	r.report(figure{name: "update latency", value: pu.String()})
	return nil
}

type arrival struct {
	rv string
	at time.Time
}

func receive(w watch.Interface, out chan<- arrival) {
	defer close(out)
	for ev := range w.ResultChan() {
		at := time.Now()
		if cm, ok := ev.Object.(*corev1.ConfigMap); ok && ev.Type == watch.Modified {
			out <- arrival{cm.ResourceVersion, at}
		}
	}
}

func awaitRV(ctx context.Context, arrivals <-chan arrival, rv string) (time.Time, error) {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case a, ok := <-arrivals:
			if !ok {
				return time.Time{}, errors.New("the watch ended")
			}
			if a.rv == rv {
				return a.at, nil
			}
		case <-timeout:
			return time.Time{}, fmt.Errorf("no MODIFIED event for resourceVersion %s within 10s", rv)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// list creates listPods pods and times LISTs of them as client-go and
// kubectl ask for them.
func (r *run) list(ctx context.Context) error {
	took, err := createPods(ctx, r.client, 0, r.o.listPods, r.o.workers)
	if err != nil {
		return err
	}
	r.report(figure{name: fmt.Sprintf("create %d pods (%d workers)", r.o.listPods, r.o.workers),
		value: fmt.Sprintf("%.0f creates/s", float64(r.o.listPods)/took.Seconds())})
	pods := r.client.CoreV1().Pods(benchNS)
	var typed []time.Duration
	for range r.o.lists {
		t0 := time.Now()
		l, err := pods.List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		typed = append(typed, time.Since(t0))
		if len(l.Items) != r.o.listPods {
			return fmt.Errorf("LIST returned %d pods, want %d", len(l.Items), r.o.listPods)
		}
	}
	p := percentiles(typed)
	r.report(figure{name: fmt.Sprintf("LIST %d pods, client-go (%d)", r.o.listPods, r.o.lists),
		value: p.short(), target: "< 100 ms", verdict: verdict(p.p99 < 100*time.Millisecond)})
	for _, accept := range []struct{ name, header string }{
		{"raw JSON, not decoded", "application/json"},
		{"as Table, like kubectl", "application/json;as=Table;v=v1;g=meta.k8s.io"},
	} {
		var lat []time.Duration
		for range 5 {
			t0 := time.Now()
			req := r.client.CoreV1().RESTClient().Get().Namespace(benchNS).Resource("pods").SetHeader("Accept", accept.header)
			if _, err := req.DoRaw(ctx); err != nil {
				return err
			}
			lat = append(lat, time.Since(t0))
		}
		r.report(figure{name: fmt.Sprintf("LIST %d pods, %s (5)", r.o.listPods, accept.name), value: percentiles(lat).short()})
	}
	return nil
}

// holdPods brings the pods to o.pods and reads the child's memory.
func (r *run) holdPods(ctx context.Context) error {
	took, err := createPods(ctx, r.client, r.o.listPods, r.o.pods, r.o.workers)
	if err != nil {
		return err
	}
	n := r.o.pods - r.o.listPods
	r.report(figure{name: fmt.Sprintf("create %d more pods (%d workers)", n, r.o.workers),
		value: fmt.Sprintf("%.0f creates/s", float64(n)/took.Seconds())})
	if err := sleep(ctx, r.o.idle); err != nil {
		return err
	}
	rss, hwm, err := procMemory(r.child.pid())
	if err != nil {
		return err
	}
	r.report(figure{name: fmt.Sprintf("RSS holding %d pods", r.o.pods), value: fmt.Sprintf("%s (peak %s)", mb(rss), mb(hwm))})
	return nil
}

// fillLog patches pod labels until the log holds o.events events.
func (r *run) fillLog(ctx context.Context) error {
	l, err := r.client.CoreV1().Pods(benchNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	seq, _ := strconv.Atoi(l.ResourceVersion)
	need := int64(r.o.events - seq)
	var next atomic.Int64
	errs := make(chan error, r.o.patchers)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range r.o.patchers {
		wg.Go(func() {
			for n := next.Add(1); n <= need; n = next.Add(1) {
				patch := fmt.Appendf(nil, `{"metadata":{"labels":{"bench":"%d"}}}`, n)
				name := fmt.Sprint("pod-", int(n)%r.o.pods)
				if _, err := r.client.CoreV1().Pods(benchNS).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
					errs <- err
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
	took := time.Since(t0)
	l, err = r.client.CoreV1().Pods(benchNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	value := l.ResourceVersion + " events"
	if need > 0 {
		value += fmt.Sprintf(" (%d patches, %.0f/s)", need, float64(need)/took.Seconds())
	}
	r.report(figure{name: fmt.Sprintf("log filled (%d patchers)", r.o.patchers), value: value})
	return nil
}

// restart stops the child with SIGTERM and times a new one on the same data
// from process start until it is ready and lists every pod.
func (r *run) restart(ctx context.Context) error {
	t0 := time.Now()
	if err := r.child.stop(60 * time.Second); err != nil {
		return err
	}
	r.report(figure{name: "graceful stop", value: ms(time.Since(t0))})
	c, err := startChild(r.o.exe, r.dir, r.listen, r.profileEnv(true))
	if err != nil {
		return err
	}
	r.child = c
	// A fresh transport: the old process's connections are dead.
	cfg := rest.CopyConfig(r.cfg)
	cfg.Dial = (&net.Dialer{Timeout: 2 * time.Second}).DialContext
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := r.waitServing(ctx, client, r.o.pods); err != nil {
		return err
	}
	took := time.Since(c.started)
	r.report(figure{name: "restart to serving", value: ms(took) + " " + c.log.snapshotNote(),
		target: "< 5 s", verdict: verdict(took < 5*time.Second)})
	return nil
}

// waitServing polls until /readyz answers 200 and, when pods > 0, a LIST
// returns that many pods.
func (r *run) waitServing(ctx context.Context, client *kubernetes.Clientset, pods int) error {
	deadline := time.Now().Add(120 * time.Second)
	rc := client.CoreV1().RESTClient()
	for {
		if err := r.child.exited(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errors.New("not serving after 120s")
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := rc.Get().AbsPath("/readyz").DoRaw(rctx)
		if err == nil && pods > 0 {
			var l *corev1.PodList
			if l, err = client.CoreV1().Pods(benchNS).List(rctx, metav1.ListOptions{}); err == nil && len(l.Items) != pods {
				err = fmt.Errorf("%d pods, want %d", len(l.Items), pods)
			}
		}
		cancel()
		if err == nil {
			return nil
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
}

// createPods creates pods pod-<from> … pod-<to-1> with that many workers.
func createPods(ctx context.Context, client *kubernetes.Clientset, from, to, workers int) (time.Duration, error) {
	var next atomic.Int64
	next.Store(int64(from) - 1)
	errs := make(chan error, workers)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1); i < int64(to); i = next.Add(1) {
				if _, err := client.CoreV1().Pods(benchNS).Create(ctx, benchPod(int(i)), metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return time.Since(t0), <-errs
}

func benchPod(i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("pod-", i), Labels: map[string]string{"app": "bench"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
	}
}

// latencies are the percentiles of one series.
type latencies struct{ n, p50, p99, max time.Duration }

func percentiles(d []time.Duration) latencies {
	if len(d) == 0 {
		return latencies{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p int) time.Duration { return s[max(0, (len(s)*p+99)/100-1)] }
	return latencies{n: time.Duration(len(s)), p50: at(50), p99: at(99), max: s[len(s)-1]}
}

func (l latencies) String() string {
	return fmt.Sprintf("p50 %s  p99 %s  max %s", ms(l.p50), ms(l.p99), ms(l.max))
}

func (l latencies) short() string { return fmt.Sprintf("p50 %s  p99 %s", ms(l.p50), ms(l.p99)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// procMemory reads VmRSS and VmHWM (peak) of a process, in bytes.
func procMemory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// child is one `wake up` process.
type child struct {
	cmd     *exec.Cmd
	log     *childLog
	started time.Time
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, once done
}

func startChild(exe, dir, listen string, env []string) (*child, error) {
	cmd := exec.Command(exe, "up", "--data", dir, "--listen", listen, "--nats-listen", "", "--agent=false")
	c := &child{cmd: cmd, log: &childLog{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.log, c.log
	cmd.Env = append(os.Environ(), env...)
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited is nil while the child runs, and why it ended once it has.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("wake up exited: %v", c.err)
	default:
		return nil
	}
}

var kubeconfigLine = regexp.MustCompile(`export KUBECONFIG=(\S+)`)

func (c *child) waitKubeconfig(ctx context.Context, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	for {
		if m := kubeconfigLine.FindStringSubmatch(c.log.String()); m != nil {
			return m[1], nil
		}
		if err := c.exited(); err != nil {
			return "", err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("wake up printed no kubeconfig within %s", within)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// stop sends SIGTERM, waits up to grace for the exit, then kills.
func (c *child) stop(grace time.Duration) error {
	if c.exited() != nil {
		return nil
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		if c.err != nil {
			return fmt.Errorf("wake up ended with %v", c.err)
		}
		return nil
	case <-time.After(grace):
		c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("wake up did not stop within %s of SIGTERM", grace)
	}
}

// childLog collects the child's output.
type childLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *childLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *childLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *childLog) tail(n int) string {
	lines := strings.Split(strings.TrimRight(l.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var restoredLine = regexp.MustCompile(`projection restored from snapshot.*seq=(\d+).*objects=(\d+)`)

// snapshotNote says which snapshot the child restored, from its log.
func (l *childLog) snapshotNote() string {
	if m := restoredLine.FindStringSubmatch(l.String()); m != nil {
		return fmt.Sprintf("(snapshot at seq %s, %s objects)", m[1], m[2])
	}
	return "(no snapshot restored)"
}

// Profiling. With WAKE_BENCH_PPROF=ADDR in its environment, any wake
// process serves POST /cpu/start, POST /cpu/stop (which answers the profile)
// and GET /heap on ADDR; with WAKE_BENCH_PPROF_FROM_START=1 too, its CPU
// profile starts before main. `wake bench -profile DIR` uses this to profile
// each phase of the child. Nothing is served without the variable.

func init() {
	if addr := os.Getenv("WAKE_BENCH_PPROF"); addr != "" {
		p := &profiler{}
		if os.Getenv("WAKE_BENCH_PPROF_FROM_START") == "1" {
			p.start()
		}
		go http.ListenAndServe(addr, p.mux())
	}
}

type profiler struct {
	mu  sync.Mutex
	on  bool
	buf bytes.Buffer
}

func (p *profiler) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		return errors.New("already profiling")
	}
	p.buf.Reset()
	if err := pprof.StartCPUProfile(&p.buf); err != nil {
		return err
	}
	p.on = true
	return nil
}

func (p *profiler) stop() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on {
		return nil
	}
	pprof.StopCPUProfile()
	p.on = false
	return bytes.Clone(p.buf.Bytes())
}

func (p *profiler) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /cpu/start", func(w http.ResponseWriter, r *http.Request) {
		if err := p.start(); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	m.HandleFunc("POST /cpu/stop", func(w http.ResponseWriter, r *http.Request) { w.Write(p.stop()) })
	m.HandleFunc("GET /heap", func(w http.ResponseWriter, r *http.Request) { pprof.Lookup("heap").WriteTo(w, 0) })
	return m
}

// profileEnv is the child's environment for profiling, if asked for.
func (r *run) profileEnv(fromStart bool) []string {
	if r.o.profileDir == "" {
		return nil
	}
	env := []string{"WAKE_BENCH_PPROF=" + r.pprofAddr()}
	if fromStart {
		env = append(env, "WAKE_BENCH_PPROF_FROM_START=1")
	}
	return env
}

var pprofAddrOnce = sync.OnceValue(func() string { a, _ := freeAddr(); return a })

func (r *run) pprofAddr() string { return pprofAddrOnce() }

// profiled runs one phase, with a CPU profile of the child around it when
// profiling. The start phase and the restart profile from process start.
func (r *run) profiled(ctx context.Context, phase string, fn func(context.Context) error) error {
	if r.o.profileDir == "" {
		return fn(ctx)
	}
	if phase != "start" && phase != "restart" {
		if err := r.pprofPost(ctx, "/cpu/start", ""); err != nil {
			return err
		}
	}
	if err := fn(ctx); err != nil {
		return err
	}
	if phase == "start" {
		return nil // profiling began with no start request: nothing to collect
	}
	return r.pprofPost(ctx, "/cpu/stop", filepath.Join(r.o.profileDir, phase+".pprof"))
}

func (r *run) pprofPost(ctx context.Context, path, saveTo string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.pprofAddr()+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: %s %s %v", path, resp.Status, body, err)
	}
	if saveTo == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(saveTo), 0o755); err != nil {
		return err
	}
	fmt.Fprintf(r.o.out, "  (CPU profile of wake up: %s)\n", saveTo)
	return os.WriteFile(saveTo, body, 0o644)
}
