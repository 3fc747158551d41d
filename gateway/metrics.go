package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/wakehq/wake/agent/metrics"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
)

// The resource metrics API (metrics.k8s.io/v1beta1), what `kubectl top`
// reads, served as metrics-server serves it but without a scraper: each
// read selects nodes or pods from the projection and asks the agents of
// the nodes concerned over NATS (agent/metrics), in parallel and for at
// most the metrics timeout. A node that does not answer in time is left
// out and logged; the read never waits longer. Metrics are ephemeral and
// never reach the event log. As metrics-server: get of a node or pod
// without metrics is NotFound, a list leaves it out; nodes are asked only
// when Ready; lists and items carry no resourceVersion; no watch.

const (
	metricsGroup        = "metrics.k8s.io"
	metricsGroupVersion = metricsGroup + "/v1beta1"
	// DefaultMetricsTimeout bounds the wait for the nodes' answers.
	DefaultMetricsTimeout = 3 * time.Second
	// metricsParallel bounds the nodes asked at a time by one read.
	metricsParallel = 32
)

var (
	podKind, _  = kinds.ByResource("", "pods")
	nodeKind, _ = kinds.ByResource("", "nodes")
)

// metricsAPIGroup is the group in /apis and at /apis/metrics.k8s.io.
func metricsAPIGroup() metav1.APIGroup {
	v := metav1.GroupVersionForDiscovery{GroupVersion: metricsGroupVersion, Version: "v1beta1"}
	return metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: metricsGroup, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v}
}

// metricsResources is metrics-server's discovery document.
func metricsResources() metav1.APIResourceList {
	verbs := metav1.Verbs{"get", "list"}
	return metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: metricsGroupVersion,
		APIResources: []metav1.APIResource{
			{Name: "nodes", SingularName: "nodemetrics", Kind: "NodeMetrics", Verbs: verbs},
			{Name: "pods", SingularName: "podmetrics", Namespaced: true, Kind: "PodMetrics", Verbs: verbs},
		},
	}
}

// routeMetrics serves the group's reads; any other path under it falls
// through to serveResource, which knows no such kind (404).
func (s *Server) routeMetrics(r chi.Router) {
	p := "/apis/" + metricsGroupVersion
	r.HandleFunc(p+"/nodes", s.metricsHandler("nodes"))
	r.HandleFunc(p+"/nodes/{name}", s.metricsHandler("nodes"))
	r.HandleFunc(p+"/pods", s.metricsHandler("pods"))
	r.HandleFunc(p+"/namespaces/{namespace}/pods", s.metricsHandler("pods"))
	r.HandleFunc(p+"/namespaces/{namespace}/pods/{name}", s.metricsHandler("pods"))
}

func (s *Server) metricsHandler(resource string) http.HandlerFunc {
	gr := schema.GroupResource{Group: metricsGroup, Resource: resource}
	return func(w http.ResponseWriter, r *http.Request) {
		ns, name := chi.URLParam(r, "namespace"), chi.URLParam(r, "name")
		v, err := s.readMetrics(r, resource, ns, name)
		if err == nil {
			var b []byte
			if b, err = json.Marshal(v); err == nil {
				writeBody(w, parseAccept(r), http.StatusOK, b)
				return
			}
		}
		writeError(w, r, err, gr, name)
	}
}

func (s *Server) readMetrics(r *http.Request, resource, ns, name string) (any, error) {
	gr := schema.GroupResource{Group: metricsGroup, Resource: resource}
	select {
	case <-s.proj.Ready():
	default:
		return nil, errNotReady
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return nil, apierrors.NewMethodNotSupported(gr, r.Method)
	}
	if name == "" && queryBool(r.URL.Query(), "watch") {
		return nil, apierrors.NewMethodNotSupported(gr, "watch")
	}
	k := nodeKind
	if resource == "pods" {
		k = podKind
	}
	if err := validNames(k, ns, name); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout(r))
	defer cancel()
	if err := s.consistent(ctx); err != nil {
		return nil, err
	}
	if resource == "nodes" {
		return s.nodeMetrics(ctx, r.URL.Query(), name)
	}
	return s.podMetrics(ctx, r.URL.Query(), ns, name)
}

// validNames checks a namespace and name from the path as parseTarget
// checks them for the core kind k.
func validNames(k kinds.Kind, ns, name string) error {
	rest := k.Resource
	if name != "" {
		rest += "/" + name
	}
	if ns != "" {
		rest = "namespaces/" + ns + "/" + rest
	}
	_, err := parseTarget("", "v1", rest)
	return err
}

// nodeMetrics is the NodeMetrics of node name, or the list of the nodes
// the query selects.
func (s *Server) nodeMetrics(ctx context.Context, q url.Values, name string) (any, error) {
	gr := schema.GroupResource{Group: metricsGroup, Resource: "nodes"}
	var objs []*projections.Object
	if name != "" {
		o, ok := s.proj.Get(events.Ref{Resource: "nodes", Name: name})
		if !ok {
			return nil, apierrors.NewNotFound(gr, name)
		}
		objs = []*projections.Object{o}
	} else {
		f, err := parseFilter(q, nodeKind)
		if err != nil {
			return nil, err
		}
		objs, _ = s.selected(target{kind: nodeKind}, f)
	}
	asks := map[string]metrics.Request{}
	for _, o := range objs {
		if nodeReady(o) {
			asks[o.Ref.Name] = metrics.Request{Node: true}
		}
	}
	replies := s.askNodes(ctx, asks)
	list := &metricsv1beta1.NodeMetricsList{TypeMeta: metav1.TypeMeta{Kind: "NodeMetricsList", APIVersion: metricsGroupVersion}, Items: []metricsv1beta1.NodeMetrics{}}
	now := metav1.NewTime(s.now())
	for _, o := range objs {
		u := replies[o.Ref.Name].Node
		if u == nil {
			continue
		}
		list.Items = append(list.Items, metricsv1beta1.NodeMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: o.Ref.Name, Labels: o.Labels, CreationTimestamp: now},
			Timestamp:  metav1.NewTime(u.Timestamp), Window: metav1.Duration{Duration: u.Window},
			Usage: resourceUsage(*u),
		})
	}
	if name == "" {
		return list, nil
	}
	if len(list.Items) == 0 {
		return nil, apierrors.NewNotFound(gr, name)
	}
	m := &list.Items[0]
	m.TypeMeta = metav1.TypeMeta{Kind: "NodeMetrics", APIVersion: metricsGroupVersion}
	return m, nil
}

// podMetrics is the PodMetrics of pod ns/name, or the list of the pods
// the query selects in ns ("" = all namespaces).
func (s *Server) podMetrics(ctx context.Context, q url.Values, ns, name string) (any, error) {
	gr := schema.GroupResource{Group: metricsGroup, Resource: "pods"}
	var objs []*projections.Object
	if name != "" {
		o, ok := s.proj.Get(events.Ref{Resource: "pods", Namespace: ns, Name: name})
		if !ok {
			return nil, apierrors.NewNotFound(gr, name)
		}
		objs = []*projections.Object{o}
	} else {
		f, err := parseFilter(q, podKind)
		if err != nil {
			return nil, err
		}
		objs, _ = s.selected(target{kind: podKind, namespace: ns}, f)
	}
	nodes := make([]string, len(objs))
	asks := map[string]metrics.Request{}
	for i, o := range objs {
		if nodes[i] = runningOn(o); nodes[i] == "" {
			continue
		}
		req := asks[nodes[i]]
		if req.Pods = append(req.Pods, o.UID); len(req.Pods) > metrics.MaxPods {
			req = metrics.Request{AllPods: true}
		}
		asks[nodes[i]] = req
	}
	replies := s.askNodes(ctx, asks)
	byUID := map[string]*metrics.PodUsage{}
	for _, rep := range replies {
		for i := range rep.Pods {
			byUID[rep.Pods[i].UID] = &rep.Pods[i]
		}
	}
	list := &metricsv1beta1.PodMetricsList{TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: metricsGroupVersion}, Items: []metricsv1beta1.PodMetrics{}}
	now := metav1.NewTime(s.now())
	for i, o := range objs {
		pu := byUID[o.UID]
		if nodes[i] == "" || pu == nil || len(pu.Containers) == 0 {
			continue
		}
		m := metricsv1beta1.PodMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: o.Ref.Name, Namespace: o.Ref.Namespace, Labels: o.Labels, CreationTimestamp: now},
			Timestamp:  metav1.NewTime(pu.Usage.Timestamp), Window: metav1.Duration{Duration: pu.Usage.Window},
		}
		for _, c := range pu.Containers {
			m.Containers = append(m.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: resourceUsage(c.Usage)})
		}
		list.Items = append(list.Items, m)
	}
	if name == "" {
		return list, nil
	}
	if len(list.Items) == 0 {
		// metrics-server's words for a pod that exists without metrics.
		return nil, apierrors.NewNotFound(gr, ns+"/"+name)
	}
	m := &list.Items[0]
	m.TypeMeta = metav1.TypeMeta{Kind: "PodMetrics", APIVersion: metricsGroupVersion}
	return m, nil
}

// askNodes asks each node in asks, at most metricsParallel at a time, and
// returns the answers that came within the metrics timeout.
func (s *Server) askNodes(ctx context.Context, asks map[string]metrics.Request) map[string]metrics.Reply {
	out := make(map[string]metrics.Reply, len(asks))
	if len(asks) == 0 {
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, s.metricsTimeout)
	defer cancel()
	c := metrics.Client{NC: s.log.JetStream().Conn()}
	todo := make(chan string, len(asks))
	for node := range asks {
		todo <- node
	}
	close(todo)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for range min(len(asks), metricsParallel) {
		wg.Go(func() {
			for node := range todo {
				rep, err := c.Get(ctx, node, asks[node])
				if errors.Is(err, context.DeadlineExceeded) {
					err = fmt.Errorf("no answer within %s", s.metricsTimeout)
				}
				if err != nil {
					s.logger.Warn("metrics: a node is left out", "node", node, "err", err)
					continue
				}
				mu.Lock()
				out[node] = rep
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// resourceUsage is a usage as metrics-server writes it: CPU in nanocores,
// memory in bytes (binary SI).
func resourceUsage(u metrics.Usage) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewScaledQuantity(int64(u.CPU), resource.Nano),
		corev1.ResourceMemory: *resource.NewQuantity(u.Memory, resource.BinarySI),
	}
}

// nodeReady reports whether the node's Ready condition is True.
func nodeReady(o *projections.Object) bool {
	var n struct {
		Status struct {
			Conditions []struct{ Type, Status string } `json:"conditions"`
		} `json:"status"`
	}
	if json.Unmarshal(o.Raw, &n) != nil {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

// runningOn is the node of a pod bound and not finished, or "".
func runningOn(o *projections.Object) string {
	var p struct {
		Spec struct {
			NodeName string `json:"nodeName"`
		} `json:"spec"`
		Status struct {
			Phase string `json:"phase"`
		} `json:"status"`
	}
	if json.Unmarshal(o.Raw, &p) != nil || p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" {
		return ""
	}
	return strings.TrimSpace(p.Spec.NodeName)
}
