package reconcile

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/internal/admission"
	"github.com/wakehq/wake/projections"
)

// The helpers below build the events a controller returns, with the same
// server-owned fields the gateway sets, but deterministically: a uid comes
// from a seed, not from a random source, so replaying the same view gives
// the same decision.

// Decode decodes a projection object into a typed object of kind k.
func Decode(k kinds.Kind, o *projections.Object) (runtime.Object, error) {
	obj, err := scheme.Scheme.New(k.GVK())
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(o.Raw, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Ref, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(k.GVK())
	return obj, nil
}

// DecodeInto decodes a projection object into a typed value. Its error is
// terminal: the same bytes will not decode on a retry; a change to the
// object wakes its key again.
func DecodeInto(o *projections.Object, into any) error {
	if err := json.Unmarshal(o.Raw, into); err != nil {
		return TerminalError(fmt.Errorf("%s: %w", o.Ref, err))
	}
	return nil
}

// MustKind returns the catalogue entry for a group and resource; it panics
// on a resource wake does not serve, which is a programming error.
func MustKind(group, resource string) kinds.Kind {
	k, ok := kinds.ByResource(group, resource)
	if !ok {
		panic("unknown resource " + group + "/" + resource)
	}
	return k
}

// RefOf is the ref of a typed object of kind k.
func RefOf(k kinds.Kind, obj metav1.Object) events.Ref {
	return events.Ref{Group: k.Group, Resource: k.Resource, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// UID derives a stable uid from a seed: the same decision on the same view
// names the same object.
func UID(seed string) types.UID {
	return types.UID(uuid.NewSHA1(uuid.NameSpaceOID, []byte("wake/"+seed)).String())
}

// NameSuffix derives a 5-character suffix for generated names, in the
// alphabet Kubernetes uses for generateName.
func NameSuffix(seed string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	sum := uuid.NewSHA1(uuid.NameSpaceOID, []byte("wake-name/"+seed))
	out := make([]byte, 5)
	for i := range out {
		out[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(out)
}

// Create returns the append that creates obj: namespace and name must be
// set (resolve generateName with NameSuffix first). It runs the admission
// chain the gateway runs (the server's fields, with the uid from seed and
// the status the caller decided, a new pod Pending; defaults; validation),
// and expects the name to be unused.
func Create(k kinds.Kind, obj runtime.Object, now time.Time, seed string) (Append, error) {
	if _, err := meta.Accessor(obj); err != nil {
		return Append{}, err
	}
	prep := admission.Create{Kind: k, UID: UID(seed), Now: now, KeepStatus: true}
	if err := admission.Builtin.AdmitCreate(k, obj, prep); err != nil {
		return Append{}, err
	}
	return build(k, obj, events.ObjectCreated, "", 0)
}

// Update returns the append that replaces cur with obj. change says what the
// update is (spec, status, scale, metadata, binding, deletion). The caller
// keeps server-owned metadata (decode cur, modify, pass back). An object
// with a deletion timestamp that no finalizer holds any more is gone — the
// append deletes it, as the gateway does — unless it is a pod running on a
// node, which its agent finishes.
func Update(k kinds.Kind, obj runtime.Object, cur *projections.Object, change events.Change) (Append, error) {
	if change != events.ChangeStatus && change != events.ChangeBinding {
		admission.Builtin.Default(obj)
	}
	if m, err := meta.Accessor(obj); err == nil && m.GetDeletionTimestamp() != nil && !admission.Builtin.Held(obj) && !onNode(obj) {
		return build(k, obj, events.ObjectDeleted, "", cur.Seq)
	}
	return build(k, obj, events.ObjectUpdated, change, cur.Seq)
}

// onNode reports whether obj winds down on a node (a pod running there):
// deleting it is graceful, and only its node's agent finishes it.
func onNode(obj runtime.Object) bool {
	_, graceful := admission.Builtin.GracePeriod(obj, nil)
	return graceful
}

// Delete returns the append that deletes cur: at once when nothing holds
// it, else by setting its deletion timestamp for its finalizers — or, for a
// pod bound to a node, its agent, within the pod's grace period — to finish.
// Objects already terminating are left to finish.
func Delete(k kinds.Kind, cur *projections.Object, now time.Time) (Append, error) {
	obj, err := Decode(k, cur)
	if err != nil {
		return Append{}, err
	}
	m, _ := meta.Accessor(obj)
	grace, onNode := admission.Builtin.GracePeriod(obj, nil)
	held := admission.Builtin.Held(obj)
	if m.GetDeletionTimestamp() == nil {
		ts := metav1.NewTime(now.UTC().Truncate(time.Second).Add(time.Duration(grace) * time.Second))
		m.SetDeletionTimestamp(&ts)
		m.SetDeletionGracePeriodSeconds(&grace)
	} else if onNode || held {
		return Append{}, nil
	}
	if onNode || held {
		return build(k, obj, events.ObjectUpdated, events.ChangeDeletion, cur.Seq)
	}
	return build(k, obj, events.ObjectDeleted, "", cur.Seq)
}

func build(k kinds.Kind, obj runtime.Object, typ events.Type, change events.Change, expect uint64) (Append, error) {
	obj.GetObjectKind().SetGroupVersionKind(k.GVK())
	m, err := meta.Accessor(obj)
	if err != nil {
		return Append{}, err
	}
	m.SetResourceVersion("")
	data, err := json.Marshal(obj)
	if err != nil {
		return Append{}, err
	}
	ev := events.Event{
		Type: typ, Change: change, Ref: RefOf(k, m),
		APIVersion: k.APIVersion(), Kind: k.Kind, Data: data,
	}
	return Append{Event: ev, Expect: expect}, nil
}

// ControllerOf is the owner reference with controller=true in an object's
// JSON, or nil.
func ControllerOf(raw []byte) *metav1.OwnerReference {
	var m struct {
		Metadata struct {
			OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
		} `json:"metadata"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	for i, r := range m.Metadata.OwnerReferences {
		if r.Controller != nil && *r.Controller {
			return &m.Metadata.OwnerReferences[i]
		}
	}
	return nil
}

// Selecting lists the objects of a collection in a namespace whose
// spec.selector (a LabelSelector) matches a set of labels: the owners a
// changed pod may concern. An empty or invalid selector selects nothing.
func Selecting(view View, group, resource, namespace string, set map[string]string) []events.Ref {
	objs, _ := view.List(group, resource, namespace)
	var out []events.Ref
	for _, o := range objs {
		var v struct {
			Spec struct {
				Selector *metav1.LabelSelector `json:"selector"`
			} `json:"spec"`
		}
		if DecodeInto(o, &v) != nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(v.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(set)) {
			out = append(out, o.Ref)
		}
	}
	return out
}
