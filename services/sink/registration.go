package sink

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/kinds"
)

// Format is the version of the stored registration.
const Format = "wake.sink.v1"

// ErrInvalid wraps every reason a registration is refused.
var ErrInvalid = errors.New("invalid sink")

// Registration is one sink, as stored (JSON) in the WAKE_SINKS bucket
// under its name.
type Registration struct {
	Format string `json:"format"`
	Name   string `json:"name"` // a DNS label; also names the consumer
	URL    string `json:"url"`  // absolute http or https URL
	// Resource selects one kind: its plural, optionally with its group
	// ("pods", "deployments.apps"). Empty: every kind.
	Resource string `json:"resource,omitempty"`
	// Namespace selects one namespace. Empty: every namespace and the
	// cluster-scoped objects.
	Namespace string `json:"namespace,omitempty"`
	// Type selects one event type (its full name). Empty: every type.
	Type string `json:"type,omitempty"`
	// From is the first stream sequence delivered; 0 delivers every event
	// the stream retains.
	From uint64 `json:"from,omitempty"`
	// Secrets is what the sink receives of Secrets: nothing (empty, the
	// default), SecretsMetadata or SecretsFull. Its owner opts in.
	Secrets string `json:"secrets,omitempty"`
}

// What a sink may receive of Secrets, beyond nothing.
const (
	// SecretsMetadata delivers Secrets without their data, stringData
	// and the last-applied annotation (which holds them too).
	SecretsMetadata = "metadata"
	// SecretsFull delivers Secrets as they are, values included.
	SecretsFull = "full"
)

// Normalize validates r and returns it in canonical form: the resource
// resolved the way kubectl resolves it ("deploy" → "deployments.apps"),
// the type in full ("created" → "io.wake.object.created.v1"). Errors wrap
// ErrInvalid and say what to fix.
func (r Registration) Normalize() (Registration, error) {
	if r.Format != "" && r.Format != Format {
		return r, fmt.Errorf("%w %q: format %q, this wake reads %q", ErrInvalid, r.Name, r.Format, Format)
	}
	r.Format = Format
	if errs := validation.IsDNS1123Label(r.Name); len(errs) > 0 {
		return r, fmt.Errorf("%w: name %q: %s", ErrInvalid, r.Name, strings.Join(errs, "; "))
	}
	if err := checkURL(r.URL); err != nil {
		return r, fmt.Errorf("%w %q: url %q: %w", ErrInvalid, r.Name, r.URL, err)
	}
	if r.Resource != "" {
		k, ok := kinds.Resolve(r.Resource)
		if !ok {
			return r, fmt.Errorf("%w %q: unknown resource %q (a plural, singular, short name or kind, optionally .group: pods, deploy, deployments.apps)", ErrInvalid, r.Name, r.Resource)
		}
		r.Resource = k.Resource
		if k.Group != "" {
			r.Resource += "." + k.Group
		}
	}
	if r.Namespace != "" {
		if errs := validation.IsDNS1123Label(r.Namespace); len(errs) > 0 {
			return r, fmt.Errorf("%w %q: namespace %q: %s", ErrInvalid, r.Name, r.Namespace, strings.Join(errs, "; "))
		}
	}
	switch r.Secrets {
	case "", SecretsMetadata, SecretsFull:
	default:
		return r, fmt.Errorf("%w %q: secrets %q: want %s or %s (or nothing: Secrets are not delivered)", ErrInvalid, r.Name, r.Secrets, SecretsMetadata, SecretsFull)
	}
	if r.Resource == "secrets" && r.Secrets == "" {
		return r, fmt.Errorf("%w %q: a sink of secrets receives nothing unless it opts in: secrets %s or %s", ErrInvalid, r.Name, SecretsMetadata, SecretsFull)
	}
	if r.Type != "" {
		t := events.Type(r.Type)
		if !strings.HasPrefix(r.Type, events.TypePrefix) {
			t = events.Type(events.TypePrefix + "object." + r.Type + ".v1")
		}
		if !t.Known() {
			return r, fmt.Errorf("%w %q: unknown event type %q (created, updated, deleted or a full type such as %s)", ErrInvalid, r.Name, r.Type, events.ObjectCreated)
		}
		r.Type = string(t)
	}
	return r, nil
}

func checkURL(raw string) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https"):
		return errors.New("must be an absolute http:// or https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("has no host")
	case u.Fragment != "":
		return errors.New("must not have a #fragment")
	}
	return nil
}

// FilterSubject is the stream subject filter of r's consumer: its resource
// and namespace (the type is filtered by the service, as no subject token
// carries it).
func (r Registration) FilterSubject() string {
	if r.Resource == "" {
		return events.FilterSubject("", "", r.Namespace)
	}
	res, group, _ := strings.Cut(r.Resource, ".")
	return events.FilterSubject(group, res, r.Namespace)
}

// matches reports whether ev passes the filters the subject cannot carry.
func (r Registration) matches(ev events.Event) bool {
	return r.Type == "" || string(ev.Type) == r.Type
}

// ConsumerName is the durable consumer delivering to sink name.
func ConsumerName(name string) string { return consumerPrefix + name }

const consumerPrefix = "wake-sink-"

// parse reads a stored registration.
func parse(b []byte) (Registration, error) {
	var r Registration
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("%w: stored registration: %w", ErrInvalid, err)
	}
	return r.Normalize()
}
