package history

import (
	"encoding/json"
	"testing"
	"time"
)

// The hand-written encoders must give json.Marshal's bytes exactly.
func TestEncodersMatchEncodingJSON(t *testing.T) {
	members := map[string]json.RawMessage{
		"b": json.RawMessage(`{ "x" : [1, 2] }`), "a": json.RawMessage(`"<tag> & \"q\" \u2028"`),
		"é": json.RawMessage(`null`), "c": json.RawMessage(`{"s":"with space","t":"tab\\t"}`), "d\"": json.RawMessage(`1.5e3`),
	}
	want, _ := json.Marshal(members)
	if got := marshalMembers(members); string(got) != string(want) {
		t.Errorf("marshalMembers:\n got %s\nwant %s", got, want)
	}
	h := &History{FirstRetained: 7, Truncated: true, Revisions: []Revision{
		{ResourceVersion: 9, Time: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC), Change: "spec", Actor: "a<b>", RequestID: "r\n",
			Source: "wake/gateway", EventID: "id", Detail: json.RawMessage(`{"why": "x"}`), Diff: json.RawMessage(`{"a":1}`)},
		{ResourceVersion: 10, Time: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), Change: "created", Actor: "ü", Diff: nil},
	}}
	want, _ = json.Marshal(h)
	got := append(h.AppendJSON([]byte{'{'}), '}')
	if string(got) != string(want) {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
	}
}
