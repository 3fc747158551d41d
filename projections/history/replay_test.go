package history_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/history"
)

// recordedHash is the state hash of testdata/recorded.jsonl folded from
// the start. It must never change: a change means the fold is no longer
// deterministic or no longer replays an old log the same way.
const recordedHash = "fa585bf71297b6cd187df01330d10c39cfc3b3868adf5d02bc9b0e7a2601b76c"

// readRecorded reads the recorded log (JSON lines of events.Event).
func readRecorded(t *testing.T) []events.Event {
	t.Helper()
	f, err := os.Open("testdata/recorded.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []events.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev events.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func TestReplayRecordedLog(t *testing.T) {
	evs := readRecorded(t)
	st := projections.NewState()
	for _, ev := range evs {
		st.Apply(ev)
	}
	if got := st.Hash(); got != recordedHash {
		t.Fatalf("folding the recorded log: hash %s, want %s (%d objects at %d)", got, recordedHash, st.Len(), st.Seq())
	}

	// The same log appended to a real stream replays to the same hash, from
	// the start and from a snapshot taken halfway.
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]uint64{}
	for _, ev := range evs {
		seq, err := log.Append(t.Context(), ev, last[ev.Ref.Subject()])
		if err != nil || seq != ev.Seq {
			t.Fatalf("append %d: %d %v", ev.Seq, seq, err)
		}
		last[ev.Ref.Subject()] = seq
	}
	replayed, _, err := history.Replay(t.Context(), log, projections.NewState(), uint64(len(evs)))
	if err != nil || replayed.Hash() != recordedHash {
		t.Fatalf("replay from the stream: %v, hash %s", err, replayed.Hash())
	}
	half, _, _ := history.Replay(t.Context(), log, projections.NewState(), uint64(len(evs)/2))
	fromHalf, _, err := history.Replay(t.Context(), log, half, uint64(len(evs)))
	if err != nil || fromHalf.Hash() != recordedHash {
		t.Fatalf("replay from halfway: %v, hash %s", err, fromHalf.Hash())
	}
	if d, _ := history.FirstDifference(replayed, fromHalf); d != "" {
		t.Fatalf("FirstDifference of equal states: %s", d)
	}
	// A state that differs names its first differing object.
	early, _, _ := history.Replay(t.Context(), log, projections.NewState(), uint64(len(evs)-3))
	if d, _ := history.FirstDifference(replayed, early); d == "" {
		t.Fatal("FirstDifference found no difference")
	}
}

// TestRecordLog regenerates testdata/recorded.jsonl (WAKE_RECORD=1). The
// file is checked in; regenerate only deliberately.
func TestRecordLog(t *testing.T) {
	if os.Getenv("WAKE_RECORD") == "" {
		t.Skip("set WAKE_RECORD=1 to regenerate testdata/recorded.jsonl")
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var out []events.Event
	add := func(typ events.Type, change events.Change, ref events.Ref, kind string, obj map[string]any) {
		data, _ := json.Marshal(obj)
		n := len(out) + 1
		out = append(out, events.Event{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), Type: typ, Change: change,
			Source: "wake/gateway", Time: t0.Add(time.Duration(n) * time.Second), Ref: ref, APIVersion: "v1", Kind: kind,
			Actor: "admin", RequestID: fmt.Sprint("req-", n), Data: data, Seq: uint64(n)})
	}
	meta := func(ns, name string, extra map[string]any) map[string]any {
		m := map[string]any{"name": name, "uid": "uid-" + ns + "-" + name}
		if ns != "" {
			m["namespace"] = ns
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, ns := range []string{"default", "team-a", "team.b"} {
		add(events.ObjectCreated, "", events.Ref{Resource: "namespaces", Name: ns}, "Namespace",
			map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": meta("", ns, nil), "status": map[string]any{"phase": "Active"}})
	}
	for i := range 6 {
		ns := []string{"default", "team-a", "team.b"}[i%3]
		name := fmt.Sprint("web-", i)
		ref := events.Ref{Resource: "pods", Namespace: ns, Name: name}
		pod := func(node, phase string) map[string]any {
			return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta(ns, name, map[string]any{"labels": map[string]any{"app": "web"}}),
				"spec":   map[string]any{"nodeName": node, "containers": []any{map[string]any{"name": "c", "image": "nginx"}}},
				"status": map[string]any{"phase": phase}}
		}
		add(events.ObjectCreated, "", ref, "Pod", pod("", "Pending"))
		add(events.ObjectUpdated, events.ChangeBinding, ref, "Pod", pod("node-1", "Pending"))
		add(events.ObjectUpdated, events.ChangeStatus, ref, "Pod", pod("node-1", "Running"))
		cm := events.Ref{Resource: "configmaps", Namespace: ns, Name: fmt.Sprint("settings.", i)}
		add(events.ObjectCreated, "", cm, "ConfigMap", map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(ns, cm.Name, nil), "data": map[string]any{"n": fmt.Sprint(i)}})
		if i%2 == 0 {
			add(events.ObjectDeleted, "", cm, "ConfigMap", map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(ns, cm.Name, nil), "data": map[string]any{"n": fmt.Sprint(i)}})
		}
	}
	f, err := os.Create("testdata/recorded.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, ev := range out {
		enc.Encode(ev)
	}
}
