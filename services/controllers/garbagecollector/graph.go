package garbagecollector

import (
	"encoding/json"
	"sort"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// Graph indexes dependents by owner uid. It is derived from the view alone:
// Rebuild lists every object, Observe applies one change. Changes replayed
// after a Rebuild converge to the same index, because each change sets an
// object's owners wholesale. It is safe for concurrent use.
type Graph struct {
	mu     sync.RWMutex
	owners map[events.Ref][]string            // object → the uids it names as owners
	deps   map[string]map[events.Ref]struct{} // owner uid → dependents
}

// NewGraph returns an empty graph.
func NewGraph() *Graph {
	return &Graph{owners: map[events.Ref][]string{}, deps: map[string]map[events.Ref]struct{}{}}
}

// Rebuild replaces the index with the one of view.
func (g *Graph) Rebuild(view reconcile.View) {
	owners := map[events.Ref][]string{}
	deps := map[string]map[events.Ref]struct{}{}
	for _, k := range kinds.All() {
		objs, _ := view.List(k.Group, k.Resource, "")
		for _, o := range objs {
			if uids := ownerUIDs(o); len(uids) > 0 {
				owners[o.Ref] = uids
				for _, u := range uids {
					addDep(deps, u, o.Ref)
				}
			}
		}
	}
	g.mu.Lock()
	g.owners, g.deps = owners, deps
	g.mu.Unlock()
}

// Observe applies one change of the view.
func (g *Graph) Observe(ch projections.Change) {
	var uids []string
	if ch.Type != projections.Deleted {
		uids = ownerUIDs(ch.Object)
	}
	ref := ch.Object.Ref
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, u := range g.owners[ref] {
		if d := g.deps[u]; d != nil {
			delete(d, ref)
			if len(d) == 0 {
				delete(g.deps, u)
			}
		}
	}
	if len(uids) == 0 {
		delete(g.owners, ref)
		return
	}
	g.owners[ref] = uids
	for _, u := range uids {
		addDep(g.deps, u, ref)
	}
}

// Dependents returns the objects that name uid as an owner, sorted by
// subject. Callers re-read each from the view before acting.
func (g *Graph) Dependents(uid string) []events.Ref {
	g.mu.RLock()
	out := make([]events.Ref, 0, len(g.deps[uid]))
	for r := range g.deps[uid] {
		out = append(out, r)
	}
	g.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Subject() < out[j].Subject() })
	return out
}

func addDep(deps map[string]map[events.Ref]struct{}, uid string, ref events.Ref) {
	d := deps[uid]
	if d == nil {
		d = map[events.Ref]struct{}{}
		deps[uid] = d
	}
	d[ref] = struct{}{}
}

// ownerRefsOf decodes just the owner references of an object.
func ownerRefsOf(o *projections.Object) []metav1.OwnerReference {
	var m struct {
		Metadata struct {
			OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
		} `json:"metadata"`
	}
	if json.Unmarshal(o.Raw, &m) != nil {
		return nil
	}
	return m.Metadata.OwnerReferences
}

func ownerUIDs(o *projections.Object) []string {
	refs := ownerRefsOf(o)
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, string(r.UID))
	}
	return out
}
