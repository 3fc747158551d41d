package devcluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// The load generator: client-go against every gateway in turn, steady
// ConfigMap creates and updates, Deployment scales and rolling updates.
// It records every request: when it started and ended, whether it was
// acknowledged, and for each object the values an acknowledged write set
// and the values it may hold now (the last acknowledged one, plus any
// whose request failed after it: those may or may not have been applied).

// op is one request.
type op struct {
	kind       string // create, update, scale, rollout
	gateway    int
	start, end time.Time
	err        error
}

// objState is what the client knows of one object.
type objState struct {
	created  bool            // acknowledged (or AlreadyExists on a retry)
	acked    []string        // every acknowledged value, in order
	possible map[string]bool // what the object may hold now
	next     int
}

func (s *objState) attempt(v string) { s.possible[v] = true }
func (s *objState) ack(v string) {
	s.acked = append(s.acked, v)
	s.possible = map[string]bool{v: true}
}

// load drives the cluster until stopped.
type load struct {
	ns      string
	clients []*kubernetes.Clientset
	image   string
	workers int

	mu   sync.Mutex
	ops  []op
	cms  map[string]*objState // ConfigMap name → data["v"]
	reps map[string]*objState // Deployment name → spec.replicas
	revs map[string]*objState // Deployment name → template annotation drill/rev

	cancel context.CancelFunc
	wg     sync.WaitGroup
	// Each ConfigMap worker's objects and its create of unknown outcome,
	// kept from one run of the load to the next.
	mine    [][]string
	pending []string
}

var deployments = []string{"web-a", "web-b"}

func newLoad(ns, image string, clients []*kubernetes.Clientset, workers int) *load {
	return &load{ns: ns, image: image, clients: clients, workers: workers,
		cms: map[string]*objState{}, reps: map[string]*objState{}, revs: map[string]*objState{},
		mine: make([][]string, workers), pending: make([]string, workers)}
}

// setup creates the namespace and the Deployments (through the first
// gateway, retrying until they exist).
func (l *load) setup(ctx context.Context) error {
	cs := l.clients[0]
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: l.ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: l.ns, Name: "st"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "st"}, Ports: []corev1.ServicePort{{Port: 8080}}}}
	if _, err := cs.CoreV1().Services(l.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if _, err := cs.AppsV1().StatefulSets(l.ns).Create(ctx, statefulSet(l.ns, "st", l.image, 2), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	for _, name := range deployments {
		d := deployment(l.ns, name, l.image, 2)
		if _, err := cs.AppsV1().Deployments(l.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		l.reps[name] = &objState{created: true, possible: map[string]bool{}}
		l.reps[name].ack("2")
		l.revs[name] = &objState{created: true, possible: map[string]bool{}, next: 1}
		l.revs[name].ack("0")
	}
	return nil
}

// drillTolerations make a lost node's pods go after 5 s instead of never
// (wake adds no default tolerations; without one they go at once).
func drillTolerations() []corev1.Toleration {
	five := int64(5)
	return []corev1.Toleration{
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &five},
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &five},
	}
}

func podSpec(image string) corev1.PodSpec {
	zero := int64(0)
	return corev1.PodSpec{
		Containers:                    []corev1.Container{{Name: "app", Image: image, ImagePullPolicy: corev1.PullIfNotPresent}},
		Tolerations:                   drillTolerations(),
		TerminationGracePeriodSeconds: &zero,
	}
}

func deployment(ns, name, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"drill/rev": "0"}},
				Spec:       podSpec(image),
			},
		},
	}
}

func statefulSet(ns, name, image string, replicas int32) *appsv1.StatefulSet {
	labels := map[string]string{"app": name}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       podSpec(image),
			},
		},
	}
}

// start runs the workers.
func (l *load) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for w := range l.workers {
		l.wg.Add(1)
		go func() { defer l.wg.Done(); l.configMaps(ctx, w) }()
	}
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.deployments(ctx) }()
}

// stop stops the workers and waits for their requests to end.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

func (l *load) record(o op) {
	l.mu.Lock()
	l.ops = append(l.ops, o)
	l.mu.Unlock()
}

// do runs one request through gateway gw and records it. done, when
// set, says an error is the expected answer after all (AlreadyExists for a
// create retried after an unknown outcome): the request is then counted as
// acknowledged.
func (l *load) do(ctx context.Context, kind string, gw int, f func(ctx context.Context, cs *kubernetes.Clientset) error, done func(error) bool) error {
	o := op{kind: kind, gateway: gw, start: time.Now()}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := f(rctx, l.clients[gw])
	cancel()
	o.end = time.Now()
	if ctx.Err() != nil && err != nil {
		// Stopped mid-request: neither acknowledged nor failed.
		return err
	}
	if err != nil && (done == nil || !done(err)) {
		o.err = err
	}
	l.record(o)
	return err
}

// configMaps is one worker: it creates ConfigMaps (cm-<w>-<i>) and updates
// the ones it created with increasing values of data.v.
func (l *load) configMaps(ctx context.Context, w int) {
	mine, pending := l.mine[w], l.pending[w] // pending: a create of unknown outcome, retried first
	defer func() { l.mine[w], l.pending[w] = mine, pending }()
	for i := 0; ctx.Err() == nil; i++ {
		gw := (w + i) % len(l.clients)
		switch {
		case pending != "" || len(mine) < 10 || rand.IntN(4) == 0:
			name := pending
			if name == "" {
				name = fmt.Sprintf("cm-%d-%d", w, len(mine))
				l.mu.Lock()
				l.cms[name] = &objState{possible: map[string]bool{}, next: 1}
				l.mu.Unlock()
				mine = append(mine, name)
			}
			l.mu.Lock()
			st := l.cms[name]
			st.attempt("0")
			l.mu.Unlock()
			retry := pending != ""
			err := l.do(ctx, "create", gw, func(ctx context.Context, cs *kubernetes.Clientset) error {
				_, err := cs.CoreV1().ConfigMaps(l.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": "0"}}, metav1.CreateOptions{})
				return err
			}, func(err error) bool { return retry && apierrors.IsAlreadyExists(err) })
			l.mu.Lock()
			switch {
			case err == nil:
				st.created = true
				st.ack("0")
				pending = ""
			case apierrors.IsAlreadyExists(err) && pending != "":
				// The earlier, failed create was applied after all.
				st.created = true
				pending = ""
			case ctx.Err() == nil:
				pending = name
			}
			l.mu.Unlock()
		default:
			name := mine[rand.IntN(len(mine))]
			l.mu.Lock()
			st := l.cms[name]
			if !st.created {
				l.mu.Unlock()
				continue
			}
			v := fmt.Sprint(st.next)
			st.next++
			st.attempt(v)
			l.mu.Unlock()
			err := l.do(ctx, "update", gw, func(ctx context.Context, cs *kubernetes.Clientset) error {
				_, err := cs.CoreV1().ConfigMaps(l.ns).Patch(ctx, name, types.MergePatchType, []byte(`{"data":{"v":"`+v+`"}}`), metav1.PatchOptions{})
				return err
			}, nil)
			if err == nil {
				l.mu.Lock()
				st.ack(v)
				l.mu.Unlock()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deployments scales the Deployments between 1 and 3 replicas and rolls
// their pod template, alternately, every 1.5 s.
func (l *load) deployments(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		name := deployments[i%len(deployments)]
		gw := i % len(l.clients)
		if i%4 < 2 {
			n := int32(1 + rand.IntN(3))
			v := fmt.Sprint(n)
			l.mu.Lock()
			l.reps[name].attempt(v)
			l.mu.Unlock()
			err := l.do(ctx, "scale", gw, func(ctx context.Context, cs *kubernetes.Clientset) error {
				_, err := cs.AppsV1().Deployments(l.ns).UpdateScale(ctx, name,
					&autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: l.ns}, Spec: autoscalingv1.ScaleSpec{Replicas: n}}, metav1.UpdateOptions{})
				return err
			}, nil)
			if err == nil {
				l.mu.Lock()
				l.reps[name].ack(v)
				l.mu.Unlock()
			}
		} else {
			l.mu.Lock()
			st := l.revs[name]
			v := fmt.Sprint(st.next)
			st.next++
			st.attempt(v)
			l.mu.Unlock()
			patch := `{"spec":{"template":{"metadata":{"annotations":{"drill/rev":"` + v + `"}}}}}`
			err := l.do(ctx, "rollout", gw, func(ctx context.Context, cs *kubernetes.Clientset) error {
				_, err := cs.AppsV1().Deployments(l.ns).Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
				return err
			}, nil)
			if err == nil {
				l.mu.Lock()
				st.ack(v)
				l.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(1500 * time.Millisecond):
		}
	}
}

// figures over the requests that ended in [from, to]: acknowledged per
// second, the failures by message, and the longest time after fault
// without an acknowledged write through one gateway.
type figures struct {
	ackedPerSec float64
	acked       int
	failed      int
	failures    map[string]int
	stall       time.Duration
}

func (l *load) figures(from, fault, to time.Time) figures {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := figures{failures: map[string]int{}}
	acks := make([][]time.Time, len(l.clients)) // per gateway
	for _, o := range l.ops {
		if o.end.Before(from) || o.end.After(to) {
			continue
		}
		if o.err != nil {
			f.failed++
			f.failures[fmt.Sprintf("%s via gateway%d: %s", o.kind, o.gateway+1, shortErr(o.err))]++
			continue
		}
		f.acked++
		if !o.end.Before(fault) {
			acks[o.gateway] = append(acks[o.gateway], o.end)
		}
	}
	f.ackedPerSec = float64(f.acked) / to.Sub(from).Seconds()
	// The stall is the worst gateway's: a client of the killed gateway
	// waits for it, whatever the others do.
	for _, a := range acks {
		sort.Slice(a, func(i, j int) bool { return a[i].Before(a[j]) })
		prev := fault
		for _, t := range append(a, to) {
			f.stall = max(f.stall, t.Sub(prev))
			prev = t
		}
	}
	return f
}

// shortErr is an error's message without what changes from one request to
// the next (names, addresses), to count failures by kind.
func shortErr(err error) string {
	s := err.Error()
	switch {
	case apierrors.IsConflict(err):
		return "409 Conflict"
	case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
		return "504 timeout"
	case apierrors.IsServiceUnavailable(err):
		return fmt.Sprintf("503 unavailable: %.70s", err.Error())
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "context deadline exceeded") || strings.Contains(s, "Client.Timeout") || strings.Contains(s, "request canceled"):
		return "client timeout (10s)"
	case strings.Contains(s, "EOF") || strings.Contains(s, "connection reset"):
		return "connection lost mid-request"
	}
	if st, ok := err.(apierrors.APIStatus); ok {
		return fmt.Sprintf("%d %s: %.80s", st.Status().Code, st.Status().Reason, st.Status().Message)
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}
