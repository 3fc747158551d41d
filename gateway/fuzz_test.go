package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wakehq/wake/events/kinds"
)

// FuzzDecodeBody feeds arbitrary bodies through the request decoders: they
// must answer with an error or an object, never panic.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":3}}`,
		`{"metadata":{"name":"x","labels":{"a":"b"}},"data":{"k":"v"}}`,
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
		`[1,2,3]`, `{"a":{"b":{"c":[[[[]]]]}}}`, `{"metadata":{"name":1}}`, "\xff\xfe",
	} {
		f.Add(seed, "application/json")
		f.Add(seed, "application/yaml")
	}
	f.Add("k8s\x00\x0a\x0f\x0a\x02v1\x12\x09ConfigMap", "application/vnd.kubernetes.protobuf")
	pods, _ := kinds.ByResource("", "pods")
	deploys, _ := kinds.ByResource("apps", "deployments")
	cms, _ := kinds.ByResource("", "configmaps")
	f.Fuzz(func(t *testing.T, body, contentType string) {
		r := httptest.NewRequest("POST", "/api/v1/namespaces/default/pods", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		data, err := bodyJSON(r, []byte(body), bodyTypes...)
		if err != nil {
			return
		}
		for _, k := range []kinds.Kind{pods, deploys, cms} {
			for _, v := range []string{"Strict", "Warn", "Ignore"} {
				obj, _, err := decodeObject(data, k, v)
				if err == nil && obj.GetObjectKind().GroupVersionKind() != k.GVK() {
					t.Fatalf("decoded %v as %v", k.GVK(), obj.GetObjectKind().GroupVersionKind())
				}
			}
		}
	})
}

// FuzzParseTarget feeds arbitrary URL paths to the resource router: any
// target it accepts names a served kind with names that are valid for it.
func FuzzParseTarget(f *testing.F) {
	for _, seed := range []string{"pods", "namespaces/default/pods/a", "namespaces/a/status", "nodes/n/status",
		"namespaces/default/deployments/d/scale", "namespaces/x/configmaps/kube-root-ca.crt", "a/b/c/d/e/f", "namespaces/*/pods/>"} {
		f.Add("", "v1", seed)
		f.Add("apps", "v1", seed)
	}
	f.Fuzz(func(t *testing.T, group, version, rest string) {
		tg, err := parseTarget(group, version, rest)
		if err != nil {
			return
		}
		if _, ok := kinds.ByResource(tg.kind.Group, tg.kind.Resource); !ok {
			t.Fatalf("accepted unknown kind %+v", tg.kind)
		}
		for _, s := range []string{tg.namespace, tg.name} {
			if strings.ContainsAny(s, "*> \t.") && s == tg.namespace {
				t.Fatalf("accepted namespace %q", s)
			}
			if strings.ContainsAny(s, "*> \t/") {
				t.Fatalf("accepted %q in %q", s, rest)
			}
		}
	})
}
