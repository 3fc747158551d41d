package projections

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/wakehq/wake/events"
)

// Object is one object as of its latest event. It is immutable once built:
// readers may keep it as long as they like.
type Object struct {
	Ref    events.Ref
	Seq    uint64 // the object's resourceVersion
	Raw    []byte // the object's JSON, metadata.resourceVersion set to Seq
	UID    string
	Labels map[string]string
}

// ChangeType is the kind of a change, named as Kubernetes watches name them.
type ChangeType string

const (
	Added    ChangeType = "ADDED"
	Modified ChangeType = "MODIFIED"
	Deleted  ChangeType = "DELETED"
)

// Change is what one applied event did to one object.
type Change struct {
	Type   ChangeType
	Seq    uint64
	Object *Object // the new object; for Deleted, the object as it was deleted
	Prev   *Object // the object before, nil for Added
}

// resourceKey names a collection: one group and resource.
type resourceKey struct{ group, resource string }

// objectKey names an object inside its collection.
type objectKey struct{ namespace, name string }

// State is the fold of the log: every live object by collection.
type State struct {
	seq         uint64
	objects     map[resourceKey]map[objectKey]*Object
	count       int
	quarantined []Quarantined // by sequence
}

// NewState returns the empty state, before the first event.
func NewState() *State {
	return &State{objects: map[resourceKey]map[objectKey]*Object{}}
}

// Seq is the sequence of the last event applied.
func (s *State) Seq() uint64 { return s.seq }

// Len is the number of live objects.
func (s *State) Len() int { return s.count }

// Prepared is an event with its object built: the part of applying an
// event that depends on the event alone, so it may run on any goroutine,
// ahead of the ordered fold (see State.ApplyPrepared).
type Prepared struct {
	Event  events.Event
	Object *Object
	Err    error // why BuildObject refused the event's data, or why it did not decode

	subject     string // the stored subject of a message that did not decode
	undecodable bool
}

// Prepare builds ev's object. It is pure: callers may prepare many events
// concurrently and apply them in stream order.
func Prepare(ev events.Event) (p Prepared) {
	defer recoverPrepare(ev, &p)
	obj, err := BuildObject(ev)
	return Prepared{Event: ev, Object: obj, Err: err}
}

// PrepareDecoded is Prepare for an event returned by events.Decode, which
// has already checked that its data is valid JSON: that check is not
// repeated. Events from anywhere else must go through Prepare.
func PrepareDecoded(ev events.Event) (p Prepared) {
	defer recoverPrepare(ev, &p)
	obj, err := buildValid(ev)
	return Prepared{Event: ev, Object: obj, Err: err}
}

// recoverPrepare turns a panic while building ev's object into the
// reason to quarantine it: no bytes in the log may crash the fold
// (ARCHITECTURE.md, decision 11). Such a panic is a bug; the quarantine
// record and its Warning Event make it loud.
func recoverPrepare(ev events.Event, p *Prepared) {
	if r := recover(); r != nil {
		*p = Prepared{Event: ev, Err: fmt.Errorf("building the object panicked: %v", r)}
	}
}

// Apply folds one event into the state. Events must come in stream order.
// An event that cannot be applied (malformed data, data naming another
// object or kind, an update or delete of an object that does not exist) is
// quarantined: the sequence moves on, the message is recorded (see
// Quarantined) and nothing else changes, so every replica skips it alike;
// the error, a *QuarantineError, says why.
func (s *State) Apply(ev events.Event) (Change, error) {
	return s.ApplyPrepared(Prepare(ev))
}

// ApplyPrepared folds one prepared event into the state, as Apply does.
func (s *State) ApplyPrepared(p Prepared) (Change, error) {
	ev := p.Event
	if ev.Seq <= s.seq {
		return Change{}, fmt.Errorf("event %d applied out of order after %d", ev.Seq, s.seq)
	}
	s.seq = ev.Seq
	if p.undecodable {
		return Change{}, s.quarantine(ev.Seq, p.subject, p.Err)
	}
	if p.Err != nil {
		return Change{}, s.quarantine(ev.Seq, ev.Ref.Subject(), p.Err)
	}
	if err := checkKind(ev); err != nil {
		return Change{}, s.quarantine(ev.Seq, ev.Ref.Subject(), err)
	}
	rk := resourceKey{ev.Ref.Group, ev.Ref.Resource}
	ok := objectKey{ev.Ref.Namespace, ev.Ref.Name}
	prev := s.objects[rk][ok]
	obj := p.Object
	switch ev.Type {
	case events.ObjectCreated, events.ObjectUpdated:
		if prev == nil && ev.Type == events.ObjectUpdated {
			return Change{}, s.quarantine(ev.Seq, ev.Ref.Subject(), fmt.Errorf("updates %s, which does not exist", ev.Ref))
		}
		s.put(rk, ok, obj)
		if prev == nil {
			return Change{Type: Added, Seq: ev.Seq, Object: obj}, nil
		}
		return Change{Type: Modified, Seq: ev.Seq, Object: obj, Prev: prev}, nil
	case events.ObjectDeleted:
		if prev == nil {
			return Change{}, s.quarantine(ev.Seq, ev.Ref.Subject(), fmt.Errorf("deletes %s, which does not exist", ev.Ref))
		}
		delete(s.objects[rk], ok)
		s.count--
		return Change{Type: Deleted, Seq: ev.Seq, Object: obj, Prev: prev}, nil
	}
	return Change{}, s.quarantine(ev.Seq, ev.Ref.Subject(), fmt.Errorf("type %q is not one this fold knows", ev.Type))
}

func (s *State) put(rk resourceKey, ok objectKey, obj *Object) {
	coll := s.objects[rk]
	if coll == nil {
		coll = map[objectKey]*Object{}
		s.objects[rk] = coll
	}
	if _, exists := coll[ok]; !exists {
		s.count++
	}
	coll[ok] = obj
}

// Get returns one live object.
func (s *State) Get(ref events.Ref) (*Object, bool) {
	o, ok := s.objects[resourceKey{ref.Group, ref.Resource}][objectKey{ref.Namespace, ref.Name}]
	return o, ok
}

// List returns the live objects of a collection, in one namespace or in all
// (namespace ""), sorted by namespace and name as Kubernetes lists them.
func (s *State) List(group, resource, namespace string) []*Object {
	coll := s.objects[resourceKey{group, resource}]
	out := make([]*Object, 0, len(coll))
	for k, o := range coll {
		if namespace == "" || k.namespace == namespace {
			out = append(out, o)
		}
	}
	sortObjects(out)
	return out
}

func sortObjects(objs []*Object) {
	sort.Slice(objs, func(i, j int) bool {
		a, b := objs[i].Ref, objs[j].Ref
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
}

// all returns every live object sorted by subject: the canonical order of
// snapshots and hashes.
func (s *State) all() []*Object {
	out := make([]*Object, 0, s.count)
	for _, coll := range s.objects {
		for _, o := range coll {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref.Subject() < out[j].Ref.Subject() })
	return out
}

// Hash is a digest of the whole state: equal states have equal hashes.
func (s *State) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "seq %d\n", s.seq)
	for _, o := range s.all() {
		fmt.Fprintf(h, "%s %d %d\n", o.Ref.Subject(), o.Seq, len(o.Raw))
		h.Write(o.Raw)
	}
	return hex.EncodeToString(h.Sum(nil))
}
