package projections

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/wakehq/wake/events"
)

// buildObjectReference is the straightforward BuildObject this package had first: the fast one must give the same bytes. It turns an event's data into the served object: the same JSON with
// metadata.resourceVersion set to the event's sequence. Keys come out sorted,
// so the result depends on the event alone.
func buildObjectReference(ev events.Event) (*Object, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data, &top); err != nil {
		return nil, fmt.Errorf("data is not a JSON object: %w", err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(top["metadata"], &meta); err != nil || meta == nil {
		return nil, fmt.Errorf("data has no metadata object")
	}
	var m struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		UID       string            `json:"uid"`
		Labels    map[string]string `json:"labels"`
	}
	if err := json.Unmarshal(top["metadata"], &m); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if m.Name != ev.Ref.Name || m.Namespace != ev.Ref.Namespace {
		return nil, fmt.Errorf("data names %s/%s, not the event's object", m.Namespace, m.Name)
	}
	meta["resourceVersion"] = json.RawMessage(strconv.Quote(strconv.FormatUint(ev.Seq, 10)))
	metaRaw, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	top["metadata"] = metaRaw
	raw, err := json.Marshal(top)
	if err != nil {
		return nil, err
	}
	return &Object{Ref: ev.Ref, Seq: ev.Seq, Raw: raw, UID: m.UID, Labels: m.Labels}, nil
}
