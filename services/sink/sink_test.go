package sink_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/services/sink"
)

// fast are delivery options for tests: short timeout and retry delays.
var fast = sink.Options{
	Timeout: 300 * time.Millisecond,
	Retry:   []time.Duration{20 * time.Millisecond, 40 * time.Millisecond},
	BackOff: []time.Duration{5 * time.Second},
}

type env struct {
	log   *events.Log
	js    jetstream.JetStream
	store *sink.Store
}

// start runs a server, the log, the store and the service.
func start(t *testing.T) env {
	t.Helper()
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	store, err := sink.OpenStore(t.Context(), log.JetStream(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return env{log: log, js: log.JetStream(), store: store}
}

func (e env) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.New(e.js, fast).Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

func (e env) add(t *testing.T, r sink.Registration) {
	t.Helper()
	if _, err := e.store.Add(t.Context(), r); err != nil {
		t.Fatal(err)
	}
}

// write appends n rounds of changes to two ConfigMaps and one Deployment
// (created, then updated, the last round deleting cm b); it returns the
// sequences per subject filter.
func (e env) write(t *testing.T, rounds int, first bool) {
	t.Helper()
	refs := []events.Ref{
		{Resource: "configmaps", Namespace: "default", Name: "a"},
		{Resource: "configmaps", Namespace: "default", Name: "b"},
		{Group: "apps", Resource: "deployments", Namespace: "prod", Name: "web"},
	}
	for i := range rounds {
		for _, ref := range refs {
			ev := events.Event{
				ID: events.NewID(), Type: events.ObjectUpdated, Change: events.ChangeSpec, Source: "wake/test", Ref: ref,
				APIVersion: "v1", Kind: "ConfigMap", Actor: "test", RequestID: "r",
				Data: []byte(fmt.Sprintf(`{"round":%d}`, i)),
			}
			expect := uint64(0)
			if last, err := e.log.Last(t.Context(), ref); err == nil {
				expect = last.Seq
			}
			if first && i == 0 {
				ev.Type, ev.Change = events.ObjectCreated, ""
			}
			if !first && i == rounds-1 && ref.Name == "b" {
				ev.Type, ev.Change = events.ObjectDeleted, ""
			}
			if _, err := e.log.Append(t.Context(), ev, expect); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// want is every sequence of the log matching filter and, if set, type.
func (e env) want(t *testing.T, filter string, typ events.Type) []uint64 {
	t.Helper()
	var out []uint64
	err := e.log.Read(t.Context(), 1, filter, func(ev events.Event) error {
		if typ == "" || ev.Type == typ {
			out = append(out, ev.Seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// recorder is a sink: it records the wakeseq of every event it accepts.
type recorder struct {
	mu       sync.Mutex
	failures int // answer 500 to this many deliveries first
	failed   int
	hang     chan struct{} // when set, hang until the request ends or this closes
	seqs     []uint64
	types    []string
	bad      []string
}

func (rec *recorder) serve(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec.hang != nil {
			select {
			case <-r.Context().Done():
			case <-rec.hang:
			}
			return
		}
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if err != nil {
			rec.bad = append(rec.bad, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if rec.failed < rec.failures {
			rec.failed++
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		s, _ := ev.Extensions()[sink.ExtSeq].(string)
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil || !strings.HasPrefix(r.Header.Get("ce-type"), events.TypePrefix) {
			rec.bad = append(rec.bad, fmt.Sprintf("seq %q type %q: not binary mode?", s, r.Header.Get("ce-type")))
		}
		rec.seqs = append(rec.seqs, seq)
		rec.types = append(rec.types, ev.Type())
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(func() {
		if rec.hang != nil {
			close(rec.hang)
		}
		srv.Close()
	})
	return srv.URL
}

func (rec *recorder) snapshot() []uint64 {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]uint64(nil), rec.seqs...)
}

// waitAll waits until rec received every sequence in want, then checks
// that it never went backwards (duplicates allowed, losses and reordering
// not) and that every event it got was in binary mode.
func (rec *recorder) waitAll(t *testing.T, want []uint64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := rec.snapshot()
		seen := map[uint64]bool{}
		for _, s := range got {
			seen[s] = true
		}
		missing := 0
		for _, s := range want {
			if !seen[s] {
				missing++
			}
		}
		if missing == 0 {
			for i := 1; i < len(got); i++ {
				if got[i] < got[i-1] {
					t.Fatalf("out of order: %d after %d (received %v)", got[i], got[i-1], got)
				}
			}
			if len(seen) != len(want) {
				t.Fatalf("received %v, want exactly %v (with duplicates)", got, want)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.bad) > 0 {
				t.Fatalf("malformed deliveries: %v", rec.bad)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d of %d events missing; received %v", within, missing, len(want), got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFailingSinkGetsEveryEventInOrder(t *testing.T) {
	e := start(t)
	e.write(t, 5, true) // before the sink exists: delivered from the start
	rec := &recorder{failures: 3}
	e.add(t, sink.Registration{Name: "flaky", URL: rec.serve(t), Resource: "cm", Namespace: "default"})
	e.run(t)
	e.write(t, 5, false) // while it delivers
	want := e.want(t, events.FilterSubject("", "configmaps", "default"), "")
	if len(want) != 20 {
		t.Fatalf("setup: %d configmap events, want 20", len(want))
	}
	rec.waitAll(t, want, 10*time.Second)
	if rec.failed != 3 {
		t.Fatalf("sink failed %d deliveries, want 3", rec.failed)
	}
}

func TestHangingSinkDoesNotBlockOthers(t *testing.T) {
	e := start(t)
	e.write(t, 3, true)
	hung := &recorder{hang: make(chan struct{})}
	ok := &recorder{}
	e.add(t, sink.Registration{Name: "hung", URL: hung.serve(t)})
	e.add(t, sink.Registration{Name: "ok", URL: ok.serve(t)})
	e.run(t)
	e.write(t, 3, false)
	// Each of the hung sink's attempts takes the full timeout; the other
	// sink finishes long before the hung one could get past one event.
	ok.waitAll(t, e.want(t, "", ""), 2*time.Second)
	if got := hung.snapshot(); len(got) != 0 {
		t.Fatalf("hung sink recorded %v", got)
	}
}

func TestFilters(t *testing.T) {
	e := start(t)
	e.write(t, 3, true)
	e.write(t, 2, false)
	nothing, deleted, deploys := &recorder{}, &recorder{}, &recorder{}
	e.add(t, sink.Registration{Name: "nothing", URL: nothing.serve(t), Resource: "secrets", Namespace: "default", Secrets: sink.SecretsMetadata})
	e.add(t, sink.Registration{Name: "typed-nothing", URL: nothing.serve(t), Resource: "deploy", Type: "deleted"})
	e.add(t, sink.Registration{Name: "deleted", URL: deleted.serve(t), Type: "deleted"})
	e.add(t, sink.Registration{Name: "deploys", URL: deploys.serve(t), Resource: "deployments.apps", From: 4})
	e.run(t)
	deleted.waitAll(t, e.want(t, "", events.ObjectDeleted), 5*time.Second)
	var fromFour []uint64
	for _, s := range e.want(t, events.FilterSubject("apps", "deployments", ""), "") {
		if s >= 4 {
			fromFour = append(fromFour, s)
		}
	}
	deploys.waitAll(t, fromFour, 5*time.Second)
	// The filtered sinks have gone through everything their consumers got.
	for _, name := range []string{"nothing", "typed-nothing"} {
		waitDrained(t, e, name)
	}
	if got := nothing.snapshot(); len(got) != 0 {
		t.Fatalf("filters matching nothing delivered %v", got)
	}
}

// waitDrained waits until a sink's consumer has nothing pending or in flight.
func waitDrained(t *testing.T, e env, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := e.js.Consumer(t.Context(), events.StreamName, sink.ConsumerName(name))
		if err == nil {
			info, err := c.Info(t.Context())
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer of %s not drained: %v", name, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRemovedSinkLosesItsConsumer(t *testing.T) {
	e := start(t)
	e.write(t, 1, true)
	// A consumer left by a sink removed while no service ran.
	if _, err := e.js.CreateOrUpdateConsumer(t.Context(), events.StreamName, jetstream.ConsumerConfig{Durable: sink.ConsumerName("ghost")}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	e.add(t, sink.Registration{Name: "gone", URL: rec.serve(t)})
	e.run(t)
	rec.waitAll(t, e.want(t, "", ""), 5*time.Second)
	if err := e.store.Remove(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gone", "ghost"} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := e.js.Consumer(t.Context(), events.StreamName, sink.ConsumerName(name))
			if errors.Is(err, jetstream.ErrConsumerNotFound) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("consumer of %s still there: %v", name, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := e.store.Remove(t.Context(), "gone"); err == nil || !strings.Contains(err.Error(), "no sink") {
		t.Fatalf("second remove = %v, want no sink", err)
	}
}

func TestBadRegistrationsAreRefused(t *testing.T) {
	e := start(t)
	url := "http://127.0.0.1:1/hook"
	for _, tc := range []struct {
		reg  sink.Registration
		want string
	}{
		{sink.Registration{Name: "x"}, "url"},
		{sink.Registration{Name: "x", URL: "/relative"}, "absolute"},
		{sink.Registration{Name: "x", URL: "ftp://host/x"}, "absolute http"},
		{sink.Registration{Name: "x", URL: "http:///x"}, "no host"},
		{sink.Registration{Name: "x", URL: "http://h/%zz"}, "url"},
		{sink.Registration{Name: "X_bad", URL: url}, "name"},
		{sink.Registration{Name: "", URL: url}, "name"},
		{sink.Registration{Name: "x", URL: url, Resource: "widgets"}, "unknown resource"},
		{sink.Registration{Name: "x", URL: url, Type: "exploded"}, "unknown event type"},
		{sink.Registration{Name: "x", URL: url, Namespace: "Bad.NS"}, "namespace"},
		{sink.Registration{Name: "x", URL: url, Format: "wake.sink.v9"}, "format"},
	} {
		_, err := e.store.Add(t.Context(), tc.reg)
		if !errors.Is(err, sink.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Add(%+v) = %v, want ErrInvalid mentioning %q", tc.reg, err, tc.want)
		}
	}
	r, err := e.store.Add(t.Context(), sink.Registration{Name: "ok", URL: url, Resource: "deploy", Type: "created"})
	if err != nil || r.Resource != "deployments.apps" || r.Type != string(events.ObjectCreated) {
		t.Fatalf("Add = %+v, %v", r, err)
	}
	if _, err := e.store.Add(t.Context(), sink.Registration{Name: "ok", URL: url}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate Add = %v", err)
	}
	list, err := e.store.List(t.Context())
	if err != nil || len(list) != 1 || list[0] != r {
		t.Fatalf("List = %+v, %v", list, err)
	}
}
