package sink

import (
	"encoding/json"

	"github.com/wakehq/wake/events"
)

// lastApplied is kubectl's annotation holding the applied object whole:
// for a Secret, its values.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// redact is what r may receive of ev: ev itself, ev with a Secret's
// values removed, or nothing (ok false) for a Secret r did not opt in to,
// or one whose values cannot be told apart from the rest.
func (r Registration) redact(ev events.Event) (_ events.Event, ok bool) {
	if ev.Ref.Group != "" || ev.Ref.Resource != "secrets" || r.Secrets == SecretsFull {
		return ev, true
	}
	if r.Secrets != SecretsMetadata {
		return ev, false
	}
	data, err := withoutValues(ev.Data)
	if err != nil {
		return ev, false
	}
	ev.Data = data
	return ev, true
}

// withoutValues is a Secret's JSON without data, stringData and the
// last-applied annotation.
func withoutValues(secret []byte) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(secret, &obj); err != nil {
		return nil, err
	}
	delete(obj, "data")
	delete(obj, "stringData")
	if raw, ok := obj["metadata"]; ok {
		var meta map[string]json.RawMessage
		err := json.Unmarshal(raw, &meta)
		if err != nil {
			return nil, err
		}
		if rawAnn, ok := meta["annotations"]; ok {
			var ann map[string]string
			if err := json.Unmarshal(rawAnn, &ann); err != nil {
				return nil, err
			}
			delete(ann, lastApplied)
			if meta["annotations"], err = json.Marshal(ann); err != nil {
				return nil, err
			}
		}
		if obj["metadata"], err = json.Marshal(meta); err != nil {
			return nil, err
		}
	}
	return json.Marshal(obj)
}
