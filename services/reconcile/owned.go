package reconcile

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wakehq/wake/projections"
)

// Owned decodes the objects of a collection in ns that uid controls and
// sel matches (labels.Everything() for all), in the view's order, with
// their projection objects by name.
func Owned[T any, PT interface {
	*T
	metav1.Object
}](view View, group, resource, ns string, uid types.UID, sel labels.Selector) ([]PT, map[string]*projections.Object) {
	objs, _ := view.List(group, resource, ns)
	var out []PT
	byName := map[string]*projections.Object{}
	for _, o := range objs {
		if !sel.Matches(labels.Set(o.Labels)) {
			continue
		}
		if c := ControllerOf(o.Raw); c == nil || c.UID != uid {
			continue
		}
		var v T
		if DecodeInto(o, &v) != nil {
			continue
		}
		out = append(out, PT(&v))
		byName[o.Ref.Name] = o
	}
	return out, byName
}

// Selected decodes the objects of a collection in ns that sel matches,
// whoever controls them, in the view's order.
func Selected[T any](view View, group, resource, ns string, sel labels.Selector) []*T {
	objs, _ := view.List(group, resource, ns)
	var out []*T
	for _, o := range objs {
		if !sel.Matches(labels.Set(o.Labels)) {
			continue
		}
		var v T
		if DecodeInto(o, &v) == nil {
			out = append(out, &v)
		}
	}
	return out
}
