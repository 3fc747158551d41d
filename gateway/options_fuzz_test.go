package gateway

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzRequestOptions feeds arbitrary queries, DeleteOptions bodies and
// Accept headers through the one reading of request options: it must
// answer with an error or options that kube-apiserver would accept (dryRun
// only ever All, a known propagation policy, no negative grace period),
// never panic.
func FuzzRequestOptions(f *testing.F) {
	for _, seed := range []struct{ query, body, accept string }{
		{"dryRun=All", "", ""},
		{"dryRun=All&dryRun=All", "", "application/json"},
		{"dryRun=Yes", "", "text/html"},
		{"watch=True&resourceVersion=10&timeoutSeconds=5&allowWatchBookmarks=1", "", "application/json;as=Table;g=meta.k8s.io;v=v1"},
		{"limit=500&continue=eyJ2IjoxfQ", "", "application/yaml"},
		{"limit=-1&sendInitialEvents=false", "", "*/*;q=0.8, text/html"},
		{"gracePeriodSeconds=-5&propagationPolicy=Orphan", "", ""},
		{"", `{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"],"gracePeriodSeconds":0}`, ""},
		{"", `{"dryRun":["Nope"],"propagationPolicy":"Sideways"}`, ""},
		{"", `{"orphanDependents":true,"propagationPolicy":"Foreground"}`, ""},
		{"", `{"preconditions":{"uid":"x","resourceVersion":"3"}}`, ""},
		{"%zz&&=", "[1]", ",,;"},
	} {
		for _, v := range []string{"create", "update", "patch", "delete", "deletecollection", "list", "watch"} {
			f.Add(v, seed.query, seed.body, seed.accept)
		}
	}
	f.Fuzz(func(t *testing.T, verb, query, body, accept string) {
		r := httptest.NewRequest("DELETE", "/api/v1/namespaces/default/configmaps", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Accept", accept)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		if a, err := negotiate(r); err == nil {
			n := 0
			for _, b := range []bool{a.table, a.metadata, a.yaml} {
				if b {
					n++
				}
			}
			if n > 1 {
				t.Fatalf("Accept %q chose more than one form: %+v", accept, a)
			}
		}
		if tok, err := continueToken(r); err == nil && tok != nil && tok.V != pageTokenVersion {
			t.Fatalf("accepted a token of version %d", tok.V)
		}
		o, err := readOptions(httptest.NewRecorder(), r, verb)
		if err != nil {
			return
		}
		var dryRun []string
		switch verb {
		case "create", "update", "patch":
			q, _ := url.ParseQuery(query)
			dryRun = q["dryRun"]
		case "delete", "deletecollection":
			dryRun = o.delete.DryRun
			if p := o.delete.PropagationPolicy; p != nil && *p != metav1.DeletePropagationBackground && *p != metav1.DeletePropagationForeground && *p != metav1.DeletePropagationOrphan {
				t.Fatalf("accepted propagationPolicy %q", *p)
			}
			if g := o.delete.GracePeriodSeconds; g != nil && *g < 0 {
				t.Fatalf("accepted gracePeriodSeconds %d", *g)
			}
		}
		for _, v := range dryRun {
			if v != metav1.DryRunAll {
				t.Fatalf("accepted dryRun %q (%s %q %q)", v, verb, query, body)
			}
		}
		if o.dryRun != (len(dryRun) > 0) {
			t.Fatalf("dryRun %v for %q (%s %q %q)", o.dryRun, dryRun, verb, query, body)
		}
	})
}
