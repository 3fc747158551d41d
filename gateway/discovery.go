package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"runtime"
	"strings"

	"github.com/go-chi/chi/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"

	"github.com/wakehq/wake/events/kinds"
)

// KubernetesVersion is the Kubernetes API version wake serves: that of the
// k8s.io/api it is built with.
const KubernetesVersion = "v1.37.2"

func versionInfo() version.Info {
	return version.Info{
		Major: "1", Minor: "37", GitVersion: KubernetesVersion + "+wake",
		GoVersion: runtime.Version(), Compiler: runtime.Compiler,
		Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}
}

var allVerbs = metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// discovery documents never change while wake runs: build them once.
type discoveryDocs struct {
	api        []byte
	apis       []byte
	resources  map[string][]byte // "v1" or "apps/v1" -> APIResourceList
	openapi    []byte
	openapiGVs map[string][]byte // "api/v1" or "apis/apps/v1" -> OpenAPI v3 document
}

func buildDiscovery() discoveryDocs {
	d := discoveryDocs{resources: map[string][]byte{}, openapiGVs: map[string][]byte{}}
	d.api = mustJSON(metav1.APIVersions{
		TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
		Versions:                   []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0"}},
	})
	groups := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	openapiIndex := map[string]map[string]string{}
	for _, gv := range kinds.GroupVersions() {
		gvString := gv.Version
		path := "api/" + gv.Version
		if gv.Group != "" {
			gvString = gv.Group + "/" + gv.Version
			path = "apis/" + gvString
			v := metav1.GroupVersionForDiscovery{GroupVersion: gvString, Version: gv.Version}
			groups.Groups = append(groups.Groups, metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
		}
		list := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gvString}
		for _, k := range gv.Kinds {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: k.Resource, SingularName: k.Singular, Namespaced: k.Namespaced, Kind: k.Kind,
				Verbs: allVerbs, ShortNames: k.ShortNames, Categories: k.Categories,
			})
			if k.Status {
				list.APIResources = append(list.APIResources, metav1.APIResource{
					Name: k.Resource + "/status", Namespaced: k.Namespaced, Kind: k.Kind, Verbs: metav1.Verbs{"get", "patch", "update"},
				})
			}
			if k.Scale {
				list.APIResources = append(list.APIResources, metav1.APIResource{
					Name: k.Resource + "/scale", Namespaced: k.Namespaced, Group: "autoscaling", Version: "v1", Kind: "Scale", Verbs: metav1.Verbs{"get", "patch", "update"},
				})
			}
			if k.Group == "" && k.Resource == "pods" {
				list.APIResources = append(list.APIResources, metav1.APIResource{Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get"}},
					metav1.APIResource{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: metav1.Verbs{"create", "get"}},
					metav1.APIResource{Name: "pods/portforward", Namespaced: true, Kind: "PodPortForwardOptions", Verbs: metav1.Verbs{"create", "get"}})
			}
			if k.Kind == "Namespace" {
				list.APIResources = append(list.APIResources, metav1.APIResource{Name: "namespaces/finalize", Kind: "Namespace", Verbs: metav1.Verbs{"update"}})
			}
		}
		d.resources[gvString] = mustJSON(list)
		doc := mustJSON(openAPIDoc(gv))
		d.openapiGVs[path] = doc
		sum := sha256.Sum256(doc)
		openapiIndex[path] = map[string]string{"serverRelativeURL": "/openapi/v3/" + path + "?hash=" + hex.EncodeToString(sum[:8])}
	}
	groups.Groups = append(groups.Groups, metricsAPIGroup()) // served by metrics.go
	d.resources[metricsGroupVersion] = mustJSON(metricsResources())
	wake := metav1.GroupVersionForDiscovery{GroupVersion: wakeAPIVersion, Version: "v1"}
	groups.Groups = append(groups.Groups, metav1.APIGroup{Name: WakeGroup, Versions: []metav1.GroupVersionForDiscovery{wake}, PreferredVersion: wake})
	d.resources[wakeAPIVersion] = mustJSON(wakeResources())
	d.apis = mustJSON(groups)
	d.openapi = mustJSON(map[string]any{"paths": openapiIndex})
	return d
}

// openAPIDoc is a minimal OpenAPI v3 document for one group version. It tells
// kubectl that every kind's PATCH accepts the fieldValidation parameter, so
// kubectl leaves validation to the server (which is strict about unknown
// fields) instead of validating against a schema on the client. It carries no
// schemas: kubectl then computes apply patches from its built-in types.
func openAPIDoc(gv kinds.GroupVersion) map[string]any {
	paths := map[string]any{}
	prefix := "/api/" + gv.Version
	if gv.Group != "" {
		prefix = "/apis/" + gv.Group + "/" + gv.Version
	}
	params := []map[string]any{
		{"name": "fieldValidation", "in": "query", "schema": map[string]string{"type": "string"}},
		{"name": "fieldManager", "in": "query", "schema": map[string]string{"type": "string"}},
		{"name": "dryRun", "in": "query", "schema": map[string]string{"type": "string"}},
	}
	for _, k := range gv.Kinds {
		path := prefix + "/" + k.Resource + "/{name}"
		if k.Namespaced {
			path = prefix + "/namespaces/{namespace}/" + k.Resource + "/{name}"
		}
		paths[path] = map[string]any{"patch": map[string]any{
			"operationId":                     "patch" + strings.ReplaceAll(gv.Group, ".", "") + k.Kind,
			"parameters":                      params,
			"responses":                       map[string]any{"200": map[string]any{"description": "OK"}},
			"x-kubernetes-action":             "patch",
			"x-kubernetes-group-version-kind": map[string]string{"group": k.Group, "version": k.Version, "kind": k.Kind},
		}}
	}
	return map[string]any{
		"openapi": "3.0.0",
		"info":    map[string]string{"title": "Kubernetes", "version": KubernetesVersion},
		"paths":   paths,
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (s *Server) routeDiscovery(r chi.Router) {
	d := s.discovery
	r.Get("/version", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, versionInfo()) })
	for _, p := range []string{"/healthz", "/livez", "/readyz"} {
		r.Get(p, s.health)
	}
	r.Get("/api", func(w http.ResponseWriter, r *http.Request) { writeRaw(w, 200, d.api) })
	r.Get("/apis", func(w http.ResponseWriter, r *http.Request) { writeRaw(w, 200, d.apis) })
	r.Get("/api/v1", func(w http.ResponseWriter, r *http.Request) { writeRaw(w, 200, d.resources["v1"]) })
	r.Get("/apis/{group}/{version}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := d.resources[chi.URLParam(r, "group")+"/"+chi.URLParam(r, "version")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		writeRaw(w, 200, b)
	})
	r.Get("/apis/{group}", func(w http.ResponseWriter, r *http.Request) {
		if chi.URLParam(r, "group") == WakeGroup {
			v := metav1.GroupVersionForDiscovery{GroupVersion: wakeAPIVersion, Version: "v1"}
			writeJSON(w, 200, metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: WakeGroup, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
			return
		}
		if chi.URLParam(r, "group") == metricsGroup {
			writeJSON(w, 200, metricsAPIGroup())
			return
		}
		for _, gv := range kinds.GroupVersions() {
			if gv.Group == chi.URLParam(r, "group") {
				v := metav1.GroupVersionForDiscovery{GroupVersion: gv.Group + "/" + gv.Version, Version: gv.Version}
				writeJSON(w, 200, metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
				return
			}
		}
		http.NotFound(w, r)
	})
	r.Get("/openapi/v3", func(w http.ResponseWriter, r *http.Request) { writeRaw(w, 200, d.openapi) })
	r.Get("/openapi/v3/*", func(w http.ResponseWriter, r *http.Request) {
		b, ok := d.openapiGVs[chi.URLParam(r, "*")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		writeRaw(w, 200, b)
	})
}

// wakeResources is the discovery document of wake's own API group (see
// WakeGroup): read-only resources, one per path, each answering GET with
// the object named in the path after it. It comes last in /apis, after
// every Kubernetes group, so that kubectl resolves a plain resource name
// that both use ("events") to the Kubernetes one; "audit/verify" is
// listed as a subresource, which kubectl api-resources does not show.
func wakeResources() metav1.APIResourceList {
	get := metav1.Verbs{"get"}
	list := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: wakeAPIVersion}
	for _, r := range []struct{ name, singular, kind string }{
		{"history", "history", "History"},
		{"blame", "blame", "Blame"},
		{"diff", "diff", "Diff"},
		{"objects", "object", "List"},
		{"resourceversion", "resourceversion", "ResourceVersion"},
		{"events", "event", "CloudEvent"},
		{"replay", "replay", "Replay"},
		{"audit/verify", "", "AuditVerification"},
	} {
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: r.name, SingularName: r.singular, Kind: r.kind, Verbs: get,
		})
	}
	return list
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	select {
	case <-s.proj.Ready():
		w.Write([]byte("ok"))
	default:
		http.Error(w, "projection catching up with the log", http.StatusServiceUnavailable)
	}
}
