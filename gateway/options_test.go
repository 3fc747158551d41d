package gateway_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/gateway"
	"github.com/wakehq/wake/projections"
)

// A dry run writes nothing, whether dryRun comes in the query (create,
// update, patch) or in the DeleteOptions body, as client-go and kubectl send
// it for delete and deletecollection (the probe's finding: `kubectl delete
// cm x --dry-run=server` deleted x).
func TestDryRunWritesNothing(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	dry := []string{metav1.DryRunAll}
	cms := e.client.CoreV1().ConfigMaps("default")
	for _, name := range []string{"a", "b"} {
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "keep"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bound := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if _, err := e.client.CoreV1().Pods("default").Create(ctx, bound, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := e.log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name string
		do   func() error
	}{
		{"create", func() error {
			_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{DryRun: dry})
			return err
		}},
		{"create of an existing name", func() error {
			_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{DryRun: dry})
			if !apierrors.IsAlreadyExists(err) {
				t.Errorf("dry-run create of an existing name: %v, want AlreadyExists as a real create", err)
			}
			return nil
		}},
		{"update", func() error {
			cm, err := cms.Get(ctx, "a", metav1.GetOptions{})
			if err != nil {
				return err
			}
			cm.Data["k"] = "changed"
			_, err = cms.Update(ctx, cm, metav1.UpdateOptions{DryRun: dry})
			return err
		}},
		{"patch", func() error {
			_, err := cms.Patch(ctx, "a", types.MergePatchType, []byte(`{"data":{"k":"patched"}}`), metav1.PatchOptions{DryRun: dry})
			return err
		}},
		{"delete", func() error { return cms.Delete(ctx, "a", metav1.DeleteOptions{DryRun: dry}) }},
		{"delete pod", func() error {
			zero := int64(0)
			return e.client.CoreV1().Pods("default").Delete(ctx, "p", metav1.DeleteOptions{DryRun: dry, GracePeriodSeconds: &zero})
		}},
		{"delete namespace", func() error {
			return e.client.CoreV1().Namespaces().Delete(ctx, "keep", metav1.DeleteOptions{DryRun: dry})
		}},
		{"deletecollection", func() error {
			return cms.DeleteCollection(ctx, metav1.DeleteOptions{DryRun: dry}, metav1.ListOptions{})
		}},
		{"delete, dryRun in the query", func() error {
			code, _, raw := e.do(t, "DELETE", "/api/v1/namespaces/default/configmaps/b?dryRun=All", "", "", true)
			if code != http.StatusOK {
				t.Errorf("delete ?dryRun=All: %d %s", code, raw)
			}
			return nil
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("dry-run %s: %v", s.name, err)
		}
	}
	after, err := e.log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("dry runs appended %d events", after-before)
	}
	list, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 || list.Items[0].Data["k"] != "v" {
		t.Fatalf("configmaps after dry runs: %v %+v", err, list.Items)
	}
	ns, err := e.client.CoreV1().Namespaces().Get(ctx, "keep", metav1.GetOptions{})
	if err != nil || ns.DeletionTimestamp != nil || ns.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("namespace after a dry-run delete: %v %+v", err, ns)
	}
	if p, err := e.client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{}); err != nil || p.DeletionTimestamp != nil {
		t.Fatalf("pod after a dry-run delete: %v %+v", err, p)
	}
}

// The Python client sends watch=True: kube-apiserver's parameter codec
// reads any value but "false" and "0" as true, so this is a watch, not a
// list.
func TestWatchTrueIsAWatch(t *testing.T) {
	e := start(t)
	if _, err := e.client.CoreV1().ConfigMaps("default").Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "seen"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"True", "TRUE", "yes", ""} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", e.url+"/api/v1/namespaces/default/configmaps?timeoutSeconds=1&watch="+v, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := insecureClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		if !sc.Scan() {
			t.Fatalf("watch=%s: no event: %v", v, sc.Err())
		}
		resp.Body.Close()
		var ev struct {
			Type   string `json:"type"`
			Object struct {
				Metadata metav1.ObjectMeta `json:"metadata"`
			} `json:"object"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Type != "ADDED" || ev.Object.Metadata.Name != "seen" {
			t.Fatalf("watch=%s: first line %s (%v), want an ADDED event", v, sc.Bytes(), err)
		}
	}
	for _, v := range []string{"false", "False", "0"} {
		code, _, raw := e.do(t, "GET", "/api/v1/namespaces/default/configmaps?watch="+v, "", "", true)
		if code != http.StatusOK || !json.Valid([]byte(raw)) {
			t.Fatalf("watch=%s: %d %.200s, want a list", v, code, raw)
		}
	}
}

func insecureClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

// A watch or list from a resourceVersion the log has not reached waits for
// it a little, then answers as kube-apiserver's watch cache does (504,
// "Too large resource version", cause ResourceVersionTooLarge), instead of
// holding the connection silently.
func TestFutureResourceVersionIsTooLarge(t *testing.T) {
	e := start(t)
	last, err := e.log.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	future := strconv.FormatUint(last+1000, 10)
	for _, path := range []string{
		"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=" + future,
		"/api/v1/namespaces/default/configmaps?resourceVersion=" + future,
	} {
		begin := time.Now()
		code, st, raw := e.do(t, "GET", path, "", "", true)
		took := time.Since(begin)
		if code != http.StatusGatewayTimeout || st.Reason != metav1.StatusReasonTimeout {
			t.Fatalf("%s: %d %s, want 504 Timeout", path, code, raw)
		}
		if want := fmt.Sprintf("Timeout: Too large resource version: %s, current: %d", future, last); st.Message != want {
			t.Fatalf("%s: message %q, want %q", path, st.Message, want)
		}
		if st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != metav1.CauseTypeResourceVersionTooLarge {
			t.Fatalf("%s: details %+v, want the cause ResourceVersionTooLarge", path, st.Details)
		}
		if took < 2*time.Second || took > 10*time.Second {
			t.Fatalf("%s: answered after %v, want after about 3s", path, took)
		}
	}
}

// A patch may not change an object's identity; kube-apiserver's answers:
// name or namespace 400, uid 422 (immutable); a PUT's uid is a
// precondition (409). None of them writes.
func TestPatchCannotChangeIdentity(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cm, err := e.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "me"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := e.log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const path = "/api/v1/namespaces/default/configmaps/me"
	const merge, jsonPatch, strategic = "application/merge-patch+json", "application/json-patch+json", "application/strategic-merge-patch+json"
	cases := []struct {
		method, ct, body string
		code             int
		message          string
	}{
		{"PATCH", merge, `{"metadata":{"name":"other"}}`, 400, "the name of the object (other) does not match the name on the URL (me)"},
		{"PATCH", jsonPatch, `[{"op":"replace","path":"/metadata/name","value":"other"}]`, 400, "does not match the name on the URL"},
		{"PATCH", strategic, `{"metadata":{"namespace":"kube-system"}}`, 400, "the namespace of the object (kube-system) does not match the namespace on the request (default)"},
		{"PATCH", jsonPatch, `[{"op":"replace","path":"/metadata/namespace","value":"kube-system"}]`, 400, "does not match the namespace on the request"},
		{"PATCH", merge, `{"metadata":{"uid":"00000000-0000-0000-0000-000000000000"}}`, 422, "metadata.uid: Invalid value"},
		{"PATCH", jsonPatch, `[{"op":"replace","path":"/metadata/uid","value":"x"}]`, 422, "field is immutable"},
		{"PUT", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"me","uid":"x"}}`, 409, "Precondition failed: UID in precondition: x"},
	}
	for _, c := range cases {
		code, st, raw := e.do(t, c.method, path, c.ct, c.body, true)
		if code != c.code || !strings.Contains(st.Message, c.message) {
			t.Errorf("%s %s: %d %s, want %d with %q", c.method, c.body, code, raw, c.code, c.message)
		}
	}
	after, err := e.log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("rejected patches appended %d events", after-before)
	}
	// Naming the object's own identity is no change.
	same := fmt.Sprintf(`{"metadata":{"name":"me","namespace":"default","uid":%q},"data":{"k":"v"}}`, cm.UID)
	if code, _, raw := e.do(t, "PATCH", path, merge, same, true); code != 200 {
		t.Fatalf("patch naming its own identity: %d %s", code, raw)
	}
}

// An Accept header the gateway can produce nothing for is 406, before
// anything is read or written; every form it produces is served.
func TestAcceptNegotiation(t *testing.T) {
	e := start(t)
	const cms = "/api/v1/namespaces/default/configmaps"
	cases := []struct {
		method, path, accept string
		code                 int
		contentType          string
	}{
		{"GET", cms, "text/html", 406, "application/json"},
		{"GET", cms, "application/xml, text/plain;q=0.5", 406, "application/json"},
		{"GET", cms + "?watch=true&timeoutSeconds=1", "text/html", 406, "application/json"},
		{"DELETE", "/api/v1/namespaces/default", "image/png", 406, "application/json"},
		{"GET", cms, "application/json;as=Frobs;g=meta.k8s.io;v=v1", 406, "application/json"},
		{"GET", cms, "", 200, "application/json"},
		{"GET", cms, "text/html, */*;q=0.8", 200, "application/json"},
		{"GET", cms, "application/*", 200, "application/json"},
		{"GET", cms, "application/yaml", 200, "application/yaml"},
		{"GET", cms, "application/vnd.kubernetes.protobuf", 200, "application/json"},
		{"GET", cms, "application/json;as=Table;g=meta.k8s.io;v=v1", 200, "application/json"},
	}
	for _, c := range cases {
		req, _ := http.NewRequestWithContext(t.Context(), c.method, e.url+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		resp, err := insecureClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st metav1.Status
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != c.code || resp.Header.Get("Content-Type") != c.contentType {
			t.Errorf("%s %s Accept %q: %s %s, want %d %s", c.method, c.path, c.accept, resp.Status, resp.Header.Get("Content-Type"), c.code, c.contentType)
		}
		if c.code == 406 && (st.Reason != metav1.StatusReasonNotAcceptable || !strings.Contains(st.Message, "only the following media types are accepted")) {
			t.Errorf("%s Accept %q: status %+v, want NotAcceptable", c.path, c.accept, st)
		}
	}
	if _, err := e.client.CoreV1().Namespaces().Get(t.Context(), "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("a refused DELETE deleted: %v", err)
	}
}

// A LIST honours limit and continue, and its pages are one snapshot:
// what changes between two pages shows in none of them (client-go's pager,
// kubectl --chunk-size).
func TestListPagesAreOneSnapshot(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cms := e.client.CoreV1().ConfigMaps("default")
	for i := range 7 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("c%d", i), Labels: map[string]string{"n": strconv.Itoa(i % 2)}}, Data: map[string]string{"v": "old"}}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := cms.List(ctx, metav1.ListOptions{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 3 || first.Continue == "" || first.RemainingItemCount == nil || *first.RemainingItemCount != 4 {
		t.Fatalf("first page: %d items, continue %q, remaining %v", len(first.Items), first.Continue, first.RemainingItemCount)
	}
	// Changes between the pages.
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c35"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "c5", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Patch(ctx, "c4", types.MergePatchType, []byte(`{"data":{"v":"new"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range first.Items {
		names = append(names, cm.Name)
	}
	next := first.Continue
	for next != "" {
		page, err := cms.List(ctx, metav1.ListOptions{Limit: 3, Continue: next})
		if err != nil {
			t.Fatal(err)
		}
		if page.ResourceVersion != first.ResourceVersion {
			t.Fatalf("page at resourceVersion %s, the first at %s", page.ResourceVersion, first.ResourceVersion)
		}
		for _, cm := range page.Items {
			names = append(names, cm.Name)
			if cm.Data["v"] != "old" {
				t.Fatalf("%s on a later page is its newer version", cm.Name)
			}
		}
		next = page.Continue
	}
	if got := strings.Join(names, ","); got != "c0,c1,c2,c3,c4,c5,c6" {
		t.Fatalf("pages held %s, want c0..c6 as they were at the first page", got)
	}

	// Selectors apply to every page; a new list sees the changes.
	sel, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "n=0", Limit: 2})
	if err != nil || len(sel.Items) != 2 || sel.Items[0].Name != "c0" || sel.Items[1].Name != "c2" || sel.Continue == "" {
		t.Fatalf("selected first page: %v %+v", err, sel)
	}
	sel2, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "n=0", Limit: 2, Continue: sel.Continue})
	if err != nil || len(sel2.Items) != 2 || sel2.Items[0].Name != "c4" || sel2.Items[1].Name != "c6" || sel2.Continue != "" {
		t.Fatalf("selected second page: %v %+v", err, sel2)
	}

	// resourceVersion=0 is the watch cache's answer: one page, whatever
	// the limit (client-go's reflectors list so).
	if all, err := cms.List(ctx, metav1.ListOptions{Limit: 2, ResourceVersion: "0"}); err != nil || len(all.Items) != 7 || all.Continue != "" {
		t.Fatalf("limit with resourceVersion=0: %v, %d items, continue %q", err, len(all.Items), all.Continue)
	}

	// kube-apiserver's rules for a continue token.
	for _, c := range []struct {
		query string
		code  int
	}{
		{"?limit=2&continue=" + first.Continue + "&resourceVersion=3", 400},
		{"?limit=2&continue=" + first.Continue + "&resourceVersionMatch=NotOlderThan", 422},
		{"?limit=2&continue=garbage", 400},
		{"?limit=2&continue=" + first.Continue + "&resourceVersion=0", 200},
	} {
		if code, _, raw := e.do(t, "GET", "/api/v1/namespaces/default/configmaps"+c.query, "", "", true); code != c.code {
			t.Errorf("%s: %d %s, want %d", c.query, code, raw, c.code)
		}
	}
}

// A gateway started on a log whose last event was purged (by subject)
// served "wake is catching up with the event log" 503 forever: its
// projection waited for a sequence no event carries. It serves.
func TestGatewayServesALogWithAPurgedEnd(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	if _, err := e.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "purged"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The log denies purges and deletions; a message with a TTL (which
	// an operator with JetStream's API could allow) leaves the same hole
	// at the end when it expires.
	ref := events.Ref{Resource: "configmaps", Namespace: "default", Name: "purged"}
	info, err := e.log.Stream().Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.AllowMsgTTL = true
	if _, err := e.log.JetStream().UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	last, err := e.log.Last(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := last.Encode()
	if err != nil {
		t.Fatal(err)
	}
	id := events.NewID()
	msg.Header.Set(events.HeaderID, id)
	msg.Header.Set(jetstream.MsgIDHeader, id)
	msg.Header.Set("Nats-TTL", "1s")
	ack, err := e.log.JetStream().PublishMsg(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := e.log.Stream().GetMsg(ctx, ack.Sequence); errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message with a TTL did not expire")
		}
	}
	proj := projections.New(projections.Options{})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		proj.Run(runCtx, e.log, nil)
	}()
	defer func() { cancel(); <-done }()
	ts := httptest.NewServer(gateway.New(gateway.Config{Log: e.log, Projection: proj, Tokens: gateway.Tokens{token: {Name: "tester"}}}).Handler())
	defer ts.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/namespaces/default/configmaps", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a gateway on a log with a purged end still answers %s after 5s", resp.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, ok := proj.Get(ref); !ok || got.Seq != last.Seq {
		t.Fatalf("the ConfigMap before the hole: %+v, %v", got, ok)
	}
}
