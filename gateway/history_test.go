package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/gateway"
	"github.com/wakehq/wake/projections"
)

// startHistory is start with projection options (a short in-memory
// history makes watches resume from the log) and, unless memory, file
// storage as in production (the store's indexes differ).
func startHistory(t testing.TB, opts projections.Options, memory bool) *env {
	t.Helper()
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := events.Open(ctx, nc, events.Config{Memory: memory})
	if err != nil {
		t.Fatal(err)
	}
	proj := projections.New(opts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		proj.Run(ctx, log, nil)
	}()
	gw := gateway.New(gateway.Config{Log: log, Projection: proj, Tokens: gateway.Tokens{token: {Name: "tester", Groups: []string{gateway.AdminGroup}},
		viewerToken: {Name: "viewer", Groups: []string{"system:authenticated"}}}})
	ts := httptest.NewUnstartedServer(gw.Handler())
	ts.StartTLS()
	t.Cleanup(func() {
		ts.Close()
		cancel()
		<-done
	})
	<-proj.Ready()
	if err := gw.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	rc := &rest.Config{Host: ts.URL, BearerToken: token, QPS: -1}
	rc.TLSClientConfig.Insecure = true
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &env{log: log, proj: proj, url: ts.URL, config: rc, client: client}
}

// wakeGet GETs a path of the gateway and decodes the JSON answer into v,
// returning the status code.
func (e *env) wakeGet(t testing.TB, path string, v any) int {
	t.Helper()
	code, body := e.wakeGetRaw(t, path)
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %d: %v\n%s", path, code, err, body)
		}
	}
	return code
}

var wakeClients sync.Map // *env -> *http.Client

// wakeGetRaw GETs a path with the env's credentials and one reused client.
func (e *env) wakeGetRaw(t testing.TB, path string) (int, []byte) {
	t.Helper()
	c, ok := wakeClients.Load(e)
	if !ok {
		hc, err := rest.HTTPClientFor(e.config)
		if err != nil {
			t.Fatal(err)
		}
		c, _ = wakeClients.LoadOrStore(e, hc)
	}
	resp, err := c.(*http.Client).Get(e.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

type historyAnswer struct {
	Kind      string
	Revisions []struct {
		ResourceVersion string
		Change, Actor   string
		RequestID       string
		Diff            map[string]any
	}
	Truncated bool
}

func TestHistoryOfAnObject(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cms := e.client.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hist.one"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rvs := []string{cm.ResourceVersion}
	cm.Data = map[string]string{"a": "2", "b": "x"}
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rvs = append(rvs, cm.ResourceVersion)
	cm.Labels = map[string]string{"tier": "web"}
	delete(cm.Data, "b")
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	rvs = append(rvs, cm.ResourceVersion)
	if err := cms.Delete(ctx, cm.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	var h historyAnswer
	if code := e.wakeGet(t, "/apis/wake.io/v1/history/core/configmaps/default/hist.one", &h); code != 200 {
		t.Fatalf("history: %d %+v", code, h)
	}
	if h.Kind != "History" || len(h.Revisions) != 4 {
		t.Fatalf("want 4 revisions, got %+v", h)
	}
	changes := []string{}
	for i, r := range h.Revisions {
		changes = append(changes, r.Change)
		if r.Actor != "tester" || r.RequestID == "" {
			t.Errorf("revision %d: actor %q request %q", i, r.Actor, r.RequestID)
		}
		if i < len(rvs) && r.ResourceVersion != rvs[i] {
			t.Errorf("revision %d: resourceVersion %s, want %s", i, r.ResourceVersion, rvs[i])
		}
	}
	if got := strings.Join(changes, ","); got != "created,spec,spec,deleted" {
		t.Errorf("changes %s", got)
	}
	diff1, _ := json.Marshal(h.Revisions[1].Diff)
	if string(diff1) != `{"data":{"a":"2","b":"x"},"metadata":{"generation":2}}` {
		t.Errorf("diff of revision 1: %s", diff1)
	}
	diff2, _ := json.Marshal(h.Revisions[2].Diff)
	if string(diff2) != `{"data":{"b":null},"metadata":{"generation":3,"labels":{"tier":"web"}}}` {
		t.Errorf("diff of revision 2: %s", diff2)
	}

	var limited historyAnswer
	e.wakeGet(t, "/apis/wake.io/v1/history/core/configmaps/default/hist.one?limit=2", &limited)
	if len(limited.Revisions) != 2 || !limited.Truncated || limited.Revisions[1].Change != "deleted" {
		t.Errorf("limit=2: %+v", limited)
	}

	var diff struct{ Patch map[string]any }
	if code := e.wakeGet(t, "/apis/wake.io/v1/diff/core/configmaps/default/hist.one?from="+rvs[0]+"&to="+rvs[2], &diff); code != 200 {
		t.Fatalf("diff: %d", code)
	}
	if b, _ := json.Marshal(diff.Patch); string(b) != `{"data":{"a":"2"},"metadata":{"generation":3,"labels":{"tier":"web"}}}` {
		t.Errorf("diff %s..%s: %s", rvs[0], rvs[2], b)
	}

	for path, want := range map[string]int{
		"/apis/wake.io/v1/history/core/configmaps/default/never":                   404,
		"/apis/wake.io/v1/history/core/nothings/default/x":                         404,
		"/apis/wake.io/v1/history/core/configmaps/_/x":                             400,
		"/apis/wake.io/v1/history/core/configmaps/default/x?limit=z":               400,
		"/apis/wake.io/v1/diff/core/configmaps/default/hist.one?from=1&to=999999":  400,
		"/apis/wake.io/v1/objects/core/configmaps/default?at=2001-01-01T00:00:00Z": 400,
		"/apis/wake.io/v1/objects/core/configmaps/default?at=2999-01-01T00:00:00Z": 400,
		"/apis/wake.io/v1/objects/core/configmaps/default?at=yesterday":            400,
	} {
		var st metav1.Status
		if code := e.wakeGet(t, path, &st); code != want {
			t.Errorf("GET %s: %d %s, want %d", path, code, st.Message, want)
		}
	}
}

func TestBlame(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cms := e.client.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "blamed"}, Data: map[string]string{"a": "1", "b": "1"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created := cm.ResourceVersion
	cm.Data["b"] = "2"
	if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var blame struct {
		Fields []struct{ Path, ResourceVersion, Actor, RequestID string }
	}
	e.wakeGet(t, "/apis/wake.io/v1/blame/core/configmaps/default/blamed", &blame)
	got := map[string]string{}
	for _, f := range blame.Fields {
		got[f.Path] = f.ResourceVersion
		if f.Actor != "tester" {
			t.Errorf("%s: actor %q", f.Path, f.Actor)
		}
	}
	if got[".data.a"] != created || got[".data.b"] != cm.ResourceVersion || got[".metadata.name"] != created {
		t.Errorf("blame: %v (created %s, updated %s)", got, created, cm.ResourceVersion)
	}
}

func TestListAtOldResourceVersion(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cms := e.client.CoreV1().ConfigMaps("default")
	for i := range 5 {
		_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("tt-", i), Labels: map[string]string{"n": fmt.Sprint(i % 2)}}, Data: map[string]string{"v": "old"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	before, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	asOf := time.Now()
	time.Sleep(5 * time.Millisecond)
	cm := before.Items[1].DeepCopy()
	cm.Data["v"] = "new"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cms.Delete(ctx, "tt-3", metav1.DeleteOptions{})
	cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "tt-9"}}, metav1.CreateOptions{})

	names := func(l *corev1.ConfigMapList) string {
		var out []string
		for _, c := range l.Items {
			out = append(out, c.Name+"="+c.Data["v"]+"@"+c.ResourceVersion)
		}
		return strings.Join(out, " ")
	}
	old, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: before.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if err != nil {
		t.Fatal(err)
	}
	if names(old) != names(before) || old.ResourceVersion != before.ResourceVersion {
		t.Fatalf("Exact list at %s:\n got %s\nwant %s", before.ResourceVersion, names(old), names(before))
	}
	sel, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "n=1", ResourceVersion: before.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
	if err != nil || len(sel.Items) != 2 {
		t.Fatalf("Exact list with a selector: %v %v", err, sel)
	}
	now, _ := cms.List(ctx, metav1.ListOptions{})
	if names(now) == names(before) {
		t.Fatal("the present did not change")
	}

	var byTime corev1.ConfigMapList
	if code := e.wakeGet(t, "/apis/wake.io/v1/objects/core/configmaps/default?at="+asOf.UTC().Format(time.RFC3339Nano), &byTime); code != 200 {
		t.Fatalf("objects at %s: %d", asOf, code)
	}
	if names(&byTime) != names(before) {
		t.Fatalf("list at %s:\n got %s\nwant %s", asOf, names(&byTime), names(before))
	}
	var one corev1.ConfigMap
	e.wakeGet(t, "/apis/wake.io/v1/objects/core/configmaps/default/tt-3?at="+before.ResourceVersion, &one)
	if one.Name != "tt-3" || one.Data["v"] != "old" {
		t.Fatalf("tt-3 at %s: %+v", before.ResourceVersion, one)
	}
	var st metav1.Status
	if code := e.wakeGet(t, "/apis/wake.io/v1/objects/core/configmaps/default/tt-9?at="+before.ResourceVersion, &st); code != 404 {
		t.Fatalf("tt-9 before it existed: %d", code)
	}
}

// A watch from a resourceVersion the projection's in-memory history no
// longer holds is served from the log, then continues live.
func TestWatchResumesFromTheLog(t *testing.T) {
	e := startHistory(t, projections.Options{History: 4}, true)
	ctx := t.Context()
	cms := e.client.CoreV1().ConfigMaps("default")
	first, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w-0", Labels: map[string]string{"team": "a"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 10; i++ {
		team := "a"
		if i%3 == 0 {
			team = "b"
		}
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprint("w-", i), Labels: map[string]string{"team": team}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// w-0 leaves team a: a watcher of team a sees it DELETED.
	first.Labels["team"] = "b"
	if _, err := cms.Update(ctx, first, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: first.ResourceVersion, LabelSelector: "team=a"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []string
	for len(got) < 7 {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Error {
				t.Fatalf("watch error: %+v", ev.Object)
			}
			got = append(got, string(ev.Type)+" "+ev.Object.(*corev1.ConfigMap).Name)
		case <-time.After(5 * time.Second):
			t.Fatalf("after %v: no more events", got)
		}
	}
	want := "ADDED w-1,ADDED w-2,ADDED w-4,ADDED w-5,ADDED w-7,ADDED w-8,DELETED w-0"
	if strings.Join(got, ",") != want {
		t.Fatalf("watch from the log:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "live", Labels: map[string]string{"team": "a"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "live" {
			t.Fatalf("live event: %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live event after the log")
	}
}

func TestEventsAsCloudEvents(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	e.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ev"}}, metav1.CreateOptions{})
	hc, _ := rest.HTTPClientFor(e.config)
	resp, err := hc.Get(e.url + "/apis/wake.io/v1/events?kind=cm&type=created&actor=tester")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if resp.StatusCode != http.StatusOK || len(lines) != 1 {
		t.Fatalf("%s: %s", resp.Status, body)
	}
	var ce map[string]any
	json.Unmarshal([]byte(lines[0]), &ce)
	if ce["specversion"] != "1.0" || ce["type"] != string(events.ObjectCreated) || ce["subject"] != "configmaps/default/ev" || ce["wakeactor"] != "tester" {
		t.Fatalf("cloudevent: %v", ce)
	}
}
