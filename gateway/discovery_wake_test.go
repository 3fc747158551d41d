package gateway_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/restmapper"
)

// wake.io/v1 is in API discovery (kubectl api-resources lists it), and
// kubectl's view of every other group is as before: complete, and a name
// both use ("events") still means the Kubernetes resource.
func TestDiscoveryListsWakeGroup(t *testing.T) {
	e := start(t)
	disc, err := discovery.NewDiscoveryClientForConfig(e.config)
	if err != nil {
		t.Fatal(err)
	}
	groups, lists, err := disc.ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("discovery is incomplete: %v", err)
	}
	if last := groups[len(groups)-1]; last.Name != "wake.io" || last.PreferredVersion.GroupVersion != "wake.io/v1" {
		t.Errorf("last group %+v, want wake.io/v1", last)
	}
	have := map[string]bool{}
	for _, l := range lists {
		if l.GroupVersion == "wake.io/v1" {
			for _, r := range l.APIResources {
				have[r.Name] = true
				if len(r.Verbs) != 1 || r.Verbs[0] != "get" || r.Kind == "" {
					t.Errorf("wake.io/v1 %s: verbs %v kind %q", r.Name, r.Verbs, r.Kind)
				}
			}
		}
	}
	for _, name := range []string{"history", "blame", "diff", "objects", "resourceversion", "events", "replay", "audit/verify"} {
		if !have[name] {
			t.Errorf("wake.io/v1 does not list %s", name)
		}
	}
	if _, err := disc.ServerPreferredResources(); err != nil {
		t.Errorf("preferred resources: %v", err)
	}
	gr, err := restmapper.GetAPIGroupResources(disc)
	if err != nil {
		t.Fatal(err)
	}
	m := restmapper.NewDiscoveryRESTMapper(gr)
	for res, want := range map[string]schema.GroupVersionKind{
		"events":      {Version: "v1", Kind: "Event"},
		"pods":        {Version: "v1", Kind: "Pod"},
		"deployments": {Group: "apps", Version: "v1", Kind: "Deployment"},
		"history":     {Group: "wake.io", Version: "v1", Kind: "History"},
	} {
		got, err := m.KindFor(schema.GroupVersionResource{Resource: res})
		if err != nil || got != want {
			t.Errorf("%s maps to %v (%v), want %v", res, got, err, want)
		}
	}
	// The group's own documents.
	var g struct{ Name string }
	if code := e.wakeGet(t, "/apis/wake.io", &g); code != 200 || g.Name != "wake.io" {
		t.Errorf("GET /apis/wake.io: %d %+v", code, g)
	}
}
