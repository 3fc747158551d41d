package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
)

// Type is a CloudEvents type. Types are versioned: a change to what an
// event means or carries is a new type (".v2"), and readers keep decoding
// the old one so an old log still replays.
type Type string

// The event types of this version of wake.
const (
	ObjectCreated Type = "io.wake.object.created.v1"
	ObjectUpdated Type = "io.wake.object.updated.v1"
	ObjectDeleted Type = "io.wake.object.deleted.v1"
)

// TypePrefix starts every wake event type.
const TypePrefix = "io.wake."

var knownTypes = map[Type]bool{ObjectCreated: true, ObjectUpdated: true, ObjectDeleted: true}

// Known reports whether t is a type this version of wake can decode.
func (t Type) Known() bool { return knownTypes[t] }

// Change says what an ObjectUpdated event changed. Created and deleted
// events carry no Change.
type Change string

// The changes an update can be.
const (
	ChangeSpec     Change = "spec"     // the desired state (the main resource)
	ChangeStatus   Change = "status"   // the status subresource
	ChangeScale    Change = "scale"    // the scale subresource
	ChangeMetadata Change = "metadata" // labels, annotations, finalizers, owners
	ChangeBinding  Change = "binding"  // a pod bound to a node (scheduler)
	ChangeDeletion Change = "deletion" // deletion requested (deletionTimestamp set), object still present
)

var knownChanges = map[Change]bool{
	ChangeSpec: true, ChangeStatus: true, ChangeScale: true,
	ChangeMetadata: true, ChangeBinding: true, ChangeDeletion: true,
}

// Known reports whether c is one of the defined changes.
func (c Change) Known() bool { return knownChanges[c] }

// Event is one change of one object: a CloudEvent whose data is the
// object's JSON after the change (for ObjectDeleted, its last state).
type Event struct {
	ID     string    // CloudEvents id and Nats-Msg-Id; make it with NewID
	Type   Type      // ObjectCreated, ObjectUpdated or ObjectDeleted
	Source string    // the writer, e.g. "wake/gateway", "wake/scheduler"
	Time   time.Time // when the writer made the change; Append fills a zero Time
	Ref    Ref       // the object; also the subject

	APIVersion string // the object's apiVersion: "v1", "apps/v1"
	Kind       string // the object's kind: "Deployment"

	Actor     string // authenticated user or service account that caused it
	RequestID string // the request (or reconcile) it belongs to
	Change    Change // for ObjectUpdated only
	// Detail is optional compact JSON saying why the writer made the change:
	// the scheduler's decision (filtered nodes, scores), a controller's
	// reason. It is not part of the object.
	Detail string
	Data   []byte // the object's JSON

	// Seq is the stream sequence, set when the event is read from the log.
	Seq uint64

	// Signer and Signature are the writer's public key and its signature
	// (HeaderSigner, HeaderSignature), set when the event is read from the
	// log; "" when it is unsigned. A Log with a signer sets them on
	// append, whatever these fields hold; VerifySignature checks them.
	Signer, Signature string
}

// MaxDetail bounds Event.Detail, which travels in a header.
const MaxDetail = 64 << 10

// NewID returns a fresh event id (a random UUID). Make it once per
// intended change and reuse it when retrying the Append, so that a retry
// cannot apply the change twice.
func NewID() string { return uuid.NewString() }

// Validate checks everything Append requires except Time (which Append
// fills when zero). Errors wrap ErrInvalid, or ErrUnknownType.
func (e Event) Validate() error {
	if err := e.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (e Event) validate() error {
	if !e.Type.Known() {
		return fmt.Errorf("%w %q", ErrUnknownType, e.Type)
	}
	if err := e.Ref.Validate(); err != nil {
		return err
	}
	missing := []string{}
	for _, f := range []struct{ name, v string }{
		{"id", e.ID}, {"source", e.Source}, {"apiVersion", e.APIVersion},
		{"kind", e.Kind}, {"actor", e.Actor}, {"request id", e.RequestID},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if strings.TrimSpace(e.ID) == "" && e.ID != "" {
		missing = append(missing, "id (not blank)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s %s: %s required", e.Type, e.Ref, strings.Join(missing, ", "))
	}
	switch {
	case !validSource(e.Source):
		return fmt.Errorf("%s %s: source %q is not a URI reference", e.Type, e.Ref, e.Source)
	case e.Type == ObjectUpdated && !e.Change.Known():
		return fmt.Errorf("%s %s: change %q is not one of spec, status, scale, metadata, binding, deletion", e.Type, e.Ref, e.Change)
	case e.Type != ObjectUpdated && e.Change != "":
		return fmt.Errorf("%s %s: change %q is only for %s", e.Type, e.Ref, e.Change, ObjectUpdated)
	case len(e.Data) == 0:
		return fmt.Errorf("%s %s: data (the object's JSON) is required", e.Type, e.Ref)
	case !json.Valid(e.Data):
		return fmt.Errorf("%s %s: data is not valid JSON", e.Type, e.Ref)
	case e.Detail != "" && (len(e.Detail) > MaxDetail || !json.Valid([]byte(e.Detail))):
		return fmt.Errorf("%s %s: detail must be JSON of at most %d bytes", e.Type, e.Ref, MaxDetail)
	}
	return nil
}

// CloudEvent is e as a CloudEvents SDK event (spec 1.0, data as JSON,
// wake's attributes as extensions), validated by the SDK.
func (e Event) CloudEvent() (cloudevents.Event, error) {
	ce := cloudevents.NewEvent(cloudevents.VersionV1)
	ce.SetID(e.ID)
	ce.SetType(string(e.Type))
	ce.SetSource(e.Source)
	ce.SetSubject(e.Ref.String())
	if !e.Time.IsZero() {
		ce.SetTime(e.Time)
	}
	for _, x := range e.extensions() {
		if x.value != "" {
			ce.SetExtension(x.name, x.value)
		}
	}
	if e.Signer != "" || e.Signature != "" {
		ce.SetExtension(extSigner, e.Signer)
		ce.SetExtension(extSignature, e.Signature)
	}
	// json.RawMessage, not []byte: the SDK would base64 a []byte.
	if err := ce.SetData(cloudevents.ApplicationJSON, json.RawMessage(e.Data)); err != nil {
		return ce, fmt.Errorf("%w: %s %s: data: %w", ErrInvalid, e.Type, e.Ref, err)
	}
	if err := ce.Validate(); err != nil {
		return ce, fmt.Errorf("%w: %s %s: %w", ErrInvalid, e.Type, e.Ref, err)
	}
	return ce, nil
}

type extension struct{ name, value string }

// extensions are wake's CloudEvents extension attributes, in header order.
func (e Event) extensions() [6]extension {
	return [6]extension{
		{extActor, e.Actor},
		{extRequestID, e.RequestID},
		{extChange, string(e.Change)},
		{extAPIVersion, e.APIVersion},
		{extKind, e.Kind},
		{extDetail, e.Detail},
	}
}
