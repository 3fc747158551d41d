package gateway_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/gateway"
)

func (e *env) do(t *testing.T, method, path, contentType, body string, auth bool) (int, metav1.Status, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, e.url+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st metav1.Status
	json.Unmarshal(b, &st)
	return resp.StatusCode, st, string(b)
}

func TestBadInput(t *testing.T) {
	e := start(t)
	before, err := e.log.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	huge := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"huge"},"data":{"k":"` + strings.Repeat("x", 4<<20) + `"}}`
	cm := func(name string) string {
		return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"}}`
	}
	const cms = "/api/v1/namespaces/default/configmaps"
	cases := []struct {
		name, method, path, ct, body string
		noAuth                       bool
		code                         int
		reason                       metav1.StatusReason
		message                      string
	}{
		{name: "no token", method: "GET", path: cms, noAuth: true, code: 401, reason: metav1.StatusReasonUnauthorized},
		{name: "malformed JSON", method: "POST", path: cms, ct: "application/json", body: `{"kind":`, code: 400, reason: metav1.StatusReasonBadRequest, message: "not valid JSON"},
		{name: "malformed YAML", method: "POST", path: cms, ct: "application/yaml", body: "a: [b\n", code: 400, reason: metav1.StatusReasonBadRequest},
		{name: "not an object", method: "POST", path: cms, ct: "application/json", body: `[1,2]`, code: 400, reason: metav1.StatusReasonBadRequest},
		{name: "kind differs from URL", method: "POST", path: cms, ct: "application/json", body: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"}}`, code: 400, message: "does not match the expected kind"},
		{name: "version differs from URL", method: "POST", path: cms, ct: "application/json", body: `{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"a"}}`, code: 400, message: "does not match the expected API version"},
		{name: "unknown resource", method: "GET", path: "/api/v1/namespaces/default/widgets", code: 404, reason: metav1.StatusReasonNotFound},
		{name: "unknown group", method: "GET", path: "/apis/example.com/v1/widgets", code: 404},
		{name: "star name", method: "POST", path: cms, ct: "application/json", body: cm("*"), code: 422, reason: metav1.StatusReasonInvalid},
		{name: "wildcard name", method: "POST", path: cms, ct: "application/json", body: cm("a.>"), code: 422, reason: metav1.StatusReasonInvalid},
		{name: "space in name", method: "POST", path: cms, ct: "application/json", body: cm("a b"), code: 422},
		{name: "uppercase name", method: "POST", path: cms, ct: "application/json", body: cm("Upper"), code: 422},
		{name: "too long name", method: "POST", path: cms, ct: "application/json", body: cm(strings.Repeat("a", 254)), code: 422},
		{name: "star in URL name", method: "GET", path: cms + "/a*b", code: 400},
		{name: "bad namespace in URL", method: "GET", path: "/api/v1/namespaces/a.b/configmaps", code: 400},
		{name: "namespace missing", method: "POST", path: "/api/v1/namespaces/nowhere/configmaps", ct: "application/json", body: cm("a"), code: 404, reason: metav1.StatusReasonNotFound},
		{name: "namespace mismatch", method: "POST", path: cms, ct: "application/json", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"kube-system"}}`, code: 400},
		{name: "huge body", method: "POST", path: cms, ct: "application/json", body: huge, code: 413, reason: metav1.StatusReasonRequestEntityTooLarge},
		{name: "deep nesting", method: "POST", path: cms, ct: "application/json", body: deep, code: 400, message: "nests deeper"},
		{name: "garbage protobuf", method: "POST", path: cms, ct: "application/vnd.kubernetes.protobuf", body: "k8s\x00garbage", code: 400},
		{name: "unknown media type", method: "POST", path: cms, ct: "text/plain", body: "x", code: 415},
		{name: "unknown field strict", method: "POST", path: cms + "?fieldValidation=Strict", ct: "application/json", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"bogus":1}`, code: 400, message: `unknown field "bogus"`},
		{name: "bad fieldValidation", method: "POST", path: cms + "?fieldValidation=Maybe", ct: "application/json", body: cm("a"), code: 422, reason: metav1.StatusReasonInvalid, message: "fieldValidation: Unsupported value"},
		{name: "bad fieldValidation on patch", method: "PATCH", path: "/api/v1/namespaces/default?fieldValidation=maybe", ct: "application/merge-patch+json", body: `{}`, code: 422},
		{name: "force without apply", method: "PATCH", path: "/api/v1/namespaces/default?force=true", ct: "application/merge-patch+json", body: `{}`, code: 422},
		{name: "field manager too long", method: "POST", path: cms + "?fieldManager=" + strings.Repeat("m", 129), ct: "application/json", body: cm("a"), code: 422},
		{name: "bad label selector", method: "GET", path: cms + "?labelSelector=a%3D%3D%3Db", code: 400},
		{name: "unsupported field selector", method: "GET", path: cms + "?fieldSelector=spec.foo%3Dbar", code: 400, message: "field label not supported"},
		{name: "update missing", method: "PUT", path: cms + "/missing", ct: "application/json", body: cm("missing"), code: 404},
		{name: "update name mismatch", method: "PUT", path: cms + "/x", ct: "application/json", body: cm("y"), code: 400},
		{name: "bad json patch", method: "PATCH", path: "/api/v1/namespaces/default", ct: "application/json-patch+json", body: `{"op":1}`, code: 400},
		{name: "bad patch type", method: "PATCH", path: "/api/v1/namespaces/default", ct: "text/plain", body: `{}`, code: 415},
		{name: "invalid deployment", method: "POST", path: "/apis/apps/v1/namespaces/default/deployments", ct: "application/json", body: `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[]}}}}`, code: 422},
		{name: "cluster-scoped with namespace", method: "POST", path: "/api/v1/nodes", ct: "application/json", body: `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n","namespace":"default"}}`, code: 400},
		// Options that do not decode are 400, those that decode to a value
		// not allowed 422, as kube-apiserver answers (options.go).
		{name: "bad propagation policy", method: "DELETE", path: "/api/v1/namespaces/default?propagationPolicy=Sideways", code: 422, reason: metav1.StatusReasonInvalid},
		{name: "bad propagation policy in body", method: "DELETE", path: "/api/v1/namespaces/default", ct: "application/json", body: `{"propagationPolicy":"Sideways"}`, code: 422, reason: metav1.StatusReasonInvalid},
		{name: "orphan and propagation", method: "DELETE", path: "/api/v1/namespaces/default", ct: "application/json", body: `{"orphanDependents":true,"propagationPolicy":"Orphan"}`, code: 422},
		{name: "body not DeleteOptions", method: "DELETE", path: "/api/v1/namespaces/default", ct: "application/json", body: `{"kind":"ConfigMap"}`, code: 400},
		{name: "bad gracePeriodSeconds", method: "DELETE", path: "/api/v1/namespaces/default?gracePeriodSeconds=soon", code: 400},
		{name: "bad dryRun on create", method: "POST", path: cms + "?dryRun=Yes", ct: "application/json", body: cm("a"), code: 422, reason: metav1.StatusReasonInvalid, message: `dryRun: Unsupported value`},
		{name: "bad dryRun on update", method: "PUT", path: "/api/v1/namespaces/default?dryRun=true", ct: "application/json", body: `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}`, code: 422},
		{name: "bad dryRun on patch", method: "PATCH", path: "/api/v1/namespaces/default?dryRun=1", ct: "application/merge-patch+json", body: `{}`, code: 422},
		{name: "bad dryRun on delete", method: "DELETE", path: "/api/v1/namespaces/default?dryRun=All&dryRun=Some", code: 422},
		{name: "bad dryRun in DeleteOptions", method: "DELETE", path: "/api/v1/namespaces/default", ct: "application/json", body: `{"dryRun":["Everything"]}`, code: 422},
		{name: "bad dryRun on deletecollection", method: "DELETE", path: cms + "?dryRun=server", code: 422},
		{name: "bad limit", method: "GET", path: cms + "?limit=many", code: 400},
		{name: "match without resourceVersion", method: "GET", path: cms + "?resourceVersionMatch=Exact", code: 422, message: "resourceVersionMatch is forbidden unless resourceVersion is provided"},
		{name: "unknown match", method: "GET", path: cms + "?resourceVersion=1&resourceVersionMatch=Newest", code: 422},
		{name: "sendInitialEvents on a list", method: "GET", path: cms + "?sendInitialEvents=true", code: 422, message: "sendInitialEvents is forbidden for list"},
		{name: "sendInitialEvents without match", method: "GET", path: cms + "?watch=true&sendInitialEvents=true", code: 422},
		{name: "match on a plain watch", method: "GET", path: cms + "?watch=true&resourceVersionMatch=NotOlderThan", code: 422},
		{name: "bad timeoutSeconds", method: "GET", path: cms + "?watch=1&timeoutSeconds=x", code: 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, st, raw := e.do(t, c.method, c.path, c.ct, c.body, !c.noAuth)
			if code != c.code {
				t.Fatalf("code %d, want %d: %.300s", code, c.code, raw)
			}
			if st.Kind != "Status" || st.Code != int32(c.code) {
				t.Fatalf("response is not a Status with code %d: %.300s", c.code, raw)
			}
			if c.reason != "" && st.Reason != c.reason {
				t.Fatalf("reason %q, want %q: %s", st.Reason, c.reason, st.Message)
			}
			if !strings.Contains(st.Message, c.message) {
				t.Fatalf("message %q, want it to contain %q", st.Message, c.message)
			}
		})
	}
	after, err := e.log.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("bad requests appended %d events", after-before)
	}
}

func TestDottedNamesWork(t *testing.T) {
	e := start(t)
	body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt"}}`
	if code, _, raw := e.do(t, "POST", "/api/v1/namespaces/default/configmaps", "application/json", body, true); code != 201 {
		t.Fatalf("create: %d %s", code, raw)
	}
	if code, _, raw := e.do(t, "GET", "/api/v1/namespaces/default/configmaps/kube-root-ca.crt", "", "", true); code != 200 || !bytes.Contains([]byte(raw), []byte(`"name":"kube-root-ca.crt"`)) {
		t.Fatalf("get: %d %s", code, raw)
	}
	// A dotted name is one subject token, never two objects.
	if code, _, _ := e.do(t, "GET", "/api/v1/namespaces/default/configmaps/kube-root-ca", "", "", true); code != 404 {
		t.Fatalf("prefix of a dotted name: %d, want 404", code)
	}
}

// A body that never finishes does not hold a request forever.
func TestSlowBodyTimesOut(t *testing.T) {
	e := startWith(t, func(c *gateway.Config) { c.RequestTimeout = time.Second })
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte(`{"apiVersion":"v1","kind":"ConfigMap",`))
	req, _ := http.NewRequestWithContext(t.Context(), "POST", e.url+"/api/v1/namespaces/default/configmaps", pr)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 10 * time.Second}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("the server should answer, not hang: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %s after %v, want 408", resp.Status, time.Since(start))
	}
}
