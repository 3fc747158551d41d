// Package reconciletest is an in-memory View for the pure tests of
// controllers: objects are put into a projections.State through events, and
// a controller's appends are applied only when their expectations hold, as
// the log would.
//
// It is for tests only.
package reconciletest

import (
	"encoding/json"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// View is a reconcile.View over a State the test fills.
type View struct {
	t     testing.TB
	State *projections.State
}

var _ reconcile.View = (*View)(nil)

// NewView returns an empty view.
func NewView(t testing.TB) *View { return &View{t: t, State: projections.NewState()} }

func (v *View) Get(ref events.Ref) (*projections.Object, bool) { return v.State.Get(ref) }

func (v *View) List(group, resource, namespace string) ([]*projections.Object, uint64) {
	return v.State.List(group, resource, namespace), v.State.Seq()
}

func (v *View) Seq() uint64 { return v.State.Seq() }

// Put creates or replaces a core-group object.
func (v *View) Put(resource string, obj metav1.Object) {
	v.t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		v.t.Fatal(err)
	}
	ref := events.Ref{Resource: resource, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	typ := events.ObjectCreated
	if _, ok := v.State.Get(ref); ok {
		typ = events.ObjectUpdated
	}
	v.Apply(events.Event{Type: typ, Ref: ref, Data: data})
}

// Apply folds one event as the next in the log.
func (v *View) Apply(ev events.Event) {
	v.t.Helper()
	ev.Seq = v.State.Seq() + 1
	if _, err := v.State.Apply(ev); err != nil {
		v.t.Fatal(err)
	}
}

// Run applies a controller's appends, failing the test when one expects a
// sequence the object is not at: the log would refuse it.
func (v *View) Run(appends []reconcile.Append) {
	v.t.Helper()
	for _, a := range appends {
		cur, ok := v.State.Get(a.Event.Ref)
		if ok && cur.Seq != a.Expect || !ok && a.Expect != 0 {
			v.t.Fatalf("append to %s expects %d, object is at %v", a.Event.Ref, a.Expect, cur)
		}
		v.Apply(a.Event)
	}
}

// T is the test the view reports to.
func (v *View) T() testing.TB { return v.t }
