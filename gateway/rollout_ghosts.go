package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/history"
	"github.com/wakehq/wake/projections/logscan"
)

// Revisions a workload's controller pruned stay reachable from kubectl.
//
// kubectl's `rollout history` and `rollout undo` read a workload's
// revisions by listing its ReplicaSets (Deployment) or ControllerRevisions
// (DaemonSet, StatefulSet) and keeping those it controls, so it loses the
// ones revisionHistoryLimit deleted. The log still holds them. A list that
// opts in gets, after the live objects, the controlled objects the log
// shows deleted, each as its last state with metadata.deletionTimestamp
// set to the deletion's time and the annotation AnnotationDeletedFromLog:
// a record, not a live object. kubectl opts in by itself: it names its
// command in the Kubectl-Command header (KEP-859); client-go programs send
// HeaderIncludeDeleted. Every other list, and every watch, is unchanged.

const (
	// HeaderIncludeDeleted, set to "controlled" on a list of apps/v1
	// ReplicaSets or ControllerRevisions, adds those the log shows deleted
	// whose controller still exists, as `kubectl rollout history|undo`
	// sees them.
	HeaderIncludeDeleted = "Wake-Include-Deleted"
	// AnnotationDeletedFromLog marks an object listed from the log after
	// its deletion; its value is the deletion's resourceVersion.
	AnnotationDeletedFromLog = "wake.io/deleted-from-log"
)

// rolloutCommands are the kubectl commands that read a workload's
// revisions (the Kubectl-Command header names the command path, without
// arguments).
var rolloutCommands = map[string]bool{"kubectl rollout history": true, "kubectl rollout undo": true}

// wantsDeletedRevisions reports whether a list of t opted in to the
// revisions the log shows deleted.
func wantsDeletedRevisions(r *http.Request, t target) bool {
	if t.kind.Group != "apps" || (t.kind.Resource != "replicasets" && t.kind.Resource != "controllerrevisions") {
		return false
	}
	return r.Header.Get(HeaderIncludeDeleted) == "controlled" || rolloutCommands[r.Header.Get("Kubectl-Command")]
}

// selectedWithDeleted is selected plus the revisions the log shows deleted
// (see deletedRevisions), read from the log up to the list's
// resourceVersion. The cost is a read of the headers of the collection's
// events in that namespace, and one read by sequence per deleted object.
func (s *Server) selectedWithDeleted(ctx context.Context, t target, f filter) ([]*projections.Object, uint64, error) {
	live, seq := s.proj.List(t.kind.Group, t.kind.Resource, t.namespace)
	dels, err := s.deletionsUpTo(ctx, t, live, seq)
	if err != nil {
		return nil, 0, travelError(err)
	}
	ghosts := deletedRevisions(t.kind, live, dels, f, s.controllerExists)
	out := make([]*projections.Object, 0, len(live)+len(ghosts))
	for _, o := range live {
		if f.matches(o) {
			out = append(out, o)
		}
	}
	return append(out, ghosts...), seq, nil
}

// deletion is an object's last state before it was deleted, and when.
type deletion struct {
	obj *projections.Object // resourceVersion: the deletion's
	at  time.Time
}

// deletionsUpTo reads the objects of t's collection whose last event up
// to seq is a deletion. It skips names live at seq: where the projection
// refused a deletion event, the object is still there.
func (s *Server) deletionsUpTo(ctx context.Context, t target, live []*projections.Object, seq uint64) ([]deletion, error) {
	isLive := make(map[string]bool, len(live))
	for _, o := range live {
		isLive[o.Ref.Subject()] = true
	}
	type lastEvent struct {
		seq uint64
		at  time.Time
	}
	deletedAt := map[string]lastEvent{} // by subject
	filter := events.FilterSubject(t.kind.Group, t.kind.Resource, t.namespace)
	err := logscan.Consume(ctx, s.log, filter, 1, seq, true, func(m logscan.Msg) error {
		if s.proj.IsQuarantined(m.Seq) {
			return nil // as if absent
		}
		if events.Type(m.Header.Get(events.HeaderType)) != events.ObjectDeleted || isLive[m.Subject] {
			delete(deletedAt, m.Subject)
			return nil
		}
		at, err := time.Parse(time.RFC3339Nano, m.Header.Get(events.HeaderTime))
		if err != nil {
			at = m.Time
		}
		deletedAt[m.Subject] = lastEvent{seq: m.Seq, at: at}
		return nil
	})
	if err != nil || len(deletedAt) == 0 {
		return nil, err
	}
	revs := make([]projections.Revision, 0, len(deletedAt))
	for subj, d := range deletedAt {
		ref, err := events.ParseSubject(subj)
		if err != nil {
			return nil, fmt.Errorf("deleted %s: %w", subj, err)
		}
		revs = append(revs, projections.Revision{Ref: ref, Seq: d.seq})
	}
	objs, err := history.ObjectsAt(ctx, s.log, revs)
	if err != nil {
		return nil, err
	}
	out := make([]deletion, len(objs))
	for i, o := range objs {
		out[i] = deletion{obj: o, at: deletedAt[o.Ref.Subject()].at}
	}
	return out, nil
}

// controllerExists reports whether the object an owner reference of an
// object in namespace names exists now, with that UID.
func (s *Server) controllerExists(namespace string, ref metav1.OwnerReference) bool {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false
	}
	k, ok := kinds.ByGVK(gv.WithKind(ref.Kind))
	if !ok {
		return false
	}
	owner := events.Ref{Group: k.Group, Resource: k.Resource, Name: ref.Name}
	if k.Namespaced {
		owner.Namespace = namespace
	}
	o, ok := s.proj.Get(owner)
	return ok && o.UID == string(ref.UID)
}

// revisionMeta is what deletedRevisions reads of a ReplicaSet or a
// ControllerRevision.
type revisionMeta struct {
	Metadata struct {
		OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
		Annotations     map[string]string       `json:"annotations"`
	} `json:"metadata"`
	Revision int64 `json:"revision"` // a ControllerRevision's
}

// revisionKey is a revision number of one controller's.
type revisionKey struct {
	controller string // UID
	number     int64
}

// key is the revision o carries for its controller; ok is false when o
// has no controller or no revision number.
func (m *revisionMeta) key(k kinds.Kind) (revisionKey, *metav1.OwnerReference, bool) {
	var ctl *metav1.OwnerReference
	for i, ref := range m.Metadata.OwnerReferences {
		if ref.Controller != nil && *ref.Controller {
			ctl = &m.Metadata.OwnerReferences[i]
		}
	}
	if ctl == nil {
		return revisionKey{}, nil, false
	}
	n := m.Revision
	if k.Resource == "replicasets" {
		n, _ = strconv.ParseInt(m.Metadata.Annotations["deployment.kubernetes.io/revision"], 10, 64)
	}
	return revisionKey{controller: string(ctl.UID), number: n}, ctl, n != 0
}

// deletedRevisions picks, from dels (objects of kind k whose last event is
// their deletion, none of them live), those a rollout history should list:
// matching f as they last were, controlled by an object that exists now.
// kubectl keys a workload's revisions by number and takes the first object
// with the one asked for, so a revision number a live object (or a later
// deletion) of the same controller carries is left out, as a name taken
// by a live object is. The answer is sorted by namespace and name, each
// object marked as deleted (markDeleted).
func deletedRevisions(k kinds.Kind, live []*projections.Object, dels []deletion, f filter,
	controllerExists func(namespace string, ref metav1.OwnerReference) bool) []*projections.Object {
	taken := map[revisionKey]bool{}
	for _, o := range live {
		var m revisionMeta
		if json.Unmarshal(o.Raw, &m) != nil {
			continue
		}
		if key, _, ok := m.key(k); ok {
			taken[key] = true
		}
	}
	sort.Slice(dels, func(i, j int) bool { return dels[i].obj.Seq > dels[j].obj.Seq }) // latest first
	var out []*projections.Object
	for _, d := range dels {
		var m revisionMeta
		if !f.matches(d.obj) || json.Unmarshal(d.obj.Raw, &m) != nil {
			continue
		}
		key, ctl, numbered := m.key(k)
		if ctl == nil || !controllerExists(d.obj.Ref.Namespace, *ctl) || (numbered && taken[key]) {
			continue
		}
		if numbered {
			taken[key] = true
		}
		if o, err := markDeleted(d.obj, d.at); err == nil {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Ref, out[j].Ref
		return a.Namespace < b.Namespace || (a.Namespace == b.Namespace && a.Name < b.Name)
	})
	return out
}

// markDeleted returns o with metadata.deletionTimestamp at and the
// annotation AnnotationDeletedFromLog set to its resourceVersion.
func markDeleted(o *projections.Object, at time.Time) (*projections.Object, error) {
	var top, meta map[string]json.RawMessage
	if err := json.Unmarshal(o.Raw, &top); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(top["metadata"], &meta); err != nil {
		return nil, err
	}
	var annotations map[string]string
	if a, ok := meta["annotations"]; ok {
		if err := json.Unmarshal(a, &annotations); err != nil {
			return nil, err
		}
	}
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationDeletedFromLog] = strconv.FormatUint(o.Seq, 10)
	var err error
	if meta["annotations"], err = json.Marshal(annotations); err != nil {
		return nil, err
	}
	if meta["deletionTimestamp"], err = json.Marshal(metav1.NewTime(at.UTC())); err != nil {
		return nil, err
	}
	if top["metadata"], err = json.Marshal(meta); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(top)
	if err != nil {
		return nil, err
	}
	return &projections.Object{Ref: o.Ref, Seq: o.Seq, Raw: raw, UID: o.UID, Labels: o.Labels}, nil
}
