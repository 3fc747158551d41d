package quarantine_test

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/quarantine"
	"github.com/wakehq/wake/services/reconcile/reconciletest"
)

// The Warning Event is valid (admission accepts it) whatever the subject:
// in the object's namespace when it exists, else in default.
func TestWarning(t *testing.T) {
	v := reconciletest.NewView(t)
	v.Put("namespaces", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}})
	now := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		subject, ns, kind, involvedNS string
	}{
		{"wake.obj.core.configmaps.team.x", "team", "ConfigMap", "team"},
		{"wake.obj.core.configmaps.gone.x", "default", "ConfigMap", ""},
		{"wake.obj.core.nodes._.n1", "default", "Node", ""},
		{"wake.obj.apps.deployments.team.web", "team", "Deployment", "team"},
		{"wake.obj.example_2Ecom.widgets.team.w", "team", "", "team"},
		{"wake.obj.garbage", "default", "", ""},
		{"wake.obj.core.configmaps.default.\xff\x00", "default", "", ""},
	} {
		a, err := quarantine.Warning(v, projections.Quarantined{Seq: 7, Subject: c.subject, Reason: "not an event"}, now)
		if err != nil {
			t.Errorf("%q: %v", c.subject, err)
			continue
		}
		var ev corev1.Event
		if err := json.Unmarshal(a.Event.Data, &ev); err != nil {
			t.Fatal(err)
		}
		if a.Event.Ref.Namespace != c.ns || ev.InvolvedObject.Kind != c.kind || ev.InvolvedObject.Namespace != c.involvedNS ||
			ev.Type != corev1.EventTypeWarning || ev.Reason != quarantine.Reason || a.Event.Ref.Name != "wake-quarantined.7" || a.Expect != 0 {
			t.Errorf("%q: in %s, %+v", c.subject, a.Event.Ref.Namespace, ev)
		}
	}
}
