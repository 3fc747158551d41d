package proxy

import (
	"sort"

	"github.com/wakehq/wake/projections"
)

type key struct{ ns, name string }

// Index holds the Services and EndpointSlices the rules come from and the
// Services changed since the last Take. It is not safe for concurrent use:
// the proxy's loop owns it.
type Index struct {
	services map[key][]byte            // raw Service objects
	slices   map[key]*slice            // by slice
	bySvc    map[key]map[string]*slice // by Service, then slice name
	dirty    map[key]bool
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{services: map[key][]byte{}, slices: map[key]*slice{}, bySvc: map[key]map[string]*slice{}, dirty: map[key]bool{}}
}

// Watched reports whether the proxy reads objects of this kind.
func Watched(group, resource string) bool {
	return group == "" && resource == "services" || group == "discovery.k8s.io" && resource == "endpointslices"
}

// Apply folds changes in; it reports whether any Service became dirty.
func (ix *Index) Apply(changes ...projections.Change) bool {
	n := len(ix.dirty)
	for _, ch := range changes {
		o := ch.Object
		if o == nil || !Watched(o.Ref.Group, o.Ref.Resource) {
			continue
		}
		k := key{o.Ref.Namespace, o.Ref.Name}
		gone := ch.Type == projections.Deleted
		if o.Ref.Resource == "services" {
			delete(ix.services, k)
			if !gone {
				ix.services[k] = o.Raw
			}
			ix.dirty[k] = true
			continue
		}
		if old, ok := ix.slices[k]; ok {
			sk := key{k.ns, old.service}
			delete(ix.bySvc[sk], k.name)
			if len(ix.bySvc[sk]) == 0 {
				delete(ix.bySvc, sk)
			}
			delete(ix.slices, k)
			ix.dirty[sk] = true
		}
		if gone {
			continue
		}
		s, err := decodeSlice(o.Raw)
		if err != nil || s.service == "" {
			continue
		}
		sk := key{k.ns, s.service}
		ix.slices[k] = s
		if ix.bySvc[sk] == nil {
			ix.bySvc[sk] = map[string]*slice{}
		}
		ix.bySvc[sk][k.name] = s
		ix.dirty[sk] = true
	}
	return len(ix.dirty) > n
}

// Load adds listed objects as if each had just been created.
func (ix *Index) Load(objs []*projections.Object) {
	for _, o := range objs {
		ix.Apply(projections.Change{Type: projections.Added, Seq: o.Seq, Object: o})
	}
}

// Reset forgets everything (before a fresh Load).
func (ix *Index) Reset() { *ix = *NewIndex() }

// Take returns the ServicePorts of every Service changed since the last Take,
// by Service ("namespace/name"; an empty list means the Service has no
// ports to program any more), and clears the dirty set.
func (ix *Index) Take() map[string][]ServicePort {
	out := make(map[string][]ServicePort, len(ix.dirty))
	for k := range ix.dirty {
		out[k.ns+"/"+k.name] = ix.desired(k)
	}
	clear(ix.dirty)
	return out
}

// All returns the ServicePorts of every Service, by Service.
func (ix *Index) All() map[string][]ServicePort {
	clear(ix.dirty)
	out := map[string][]ServicePort{}
	for k := range ix.services {
		if sps := ix.desired(k); len(sps) > 0 {
			out[k.ns+"/"+k.name] = sps
		}
	}
	return out
}

func (ix *Index) desired(k key) []ServicePort {
	by := ix.bySvc[k]
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	ss := make([]*slice, len(names))
	for i, n := range names {
		ss[i] = by[n]
	}
	return Desired(ix.services[k], ss)
}
