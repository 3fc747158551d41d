package sink_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/services/sink"
)

// bodies is a sink recording what it received, by CloudEvents subject.
type bodies struct {
	mu  sync.Mutex
	got map[string]string
}

func (b *bodies) serve(t *testing.T) string {
	b.got = map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.got[ev.Subject()] = string(ev.Data())
		b.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (b *bodies) waitFor(t *testing.T, subject string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		body, ok := b.got[subject]
		b.mu.Unlock()
		if ok {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never arrived", subject)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *bodies) has(subject string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.got[subject]
	return ok
}

// A Secret reaches a sink only if its owner opted in, and then without
// its values unless it asked for them in full.
func TestSecretsReachOnlySinksThatOptIn(t *testing.T) {
	e := start(t)
	var plain, meta, full bodies
	e.add(t, sink.Registration{Name: "plain", URL: plain.serve(t)})
	e.add(t, sink.Registration{Name: "meta", URL: meta.serve(t), Secrets: sink.SecretsMetadata})
	e.add(t, sink.Registration{Name: "full", URL: full.serve(t), Secrets: sink.SecretsFull})
	e.run(t)

	secret := events.Ref{Resource: "secrets", Namespace: "default", Name: "db"}
	cm := events.Ref{Resource: "configmaps", Namespace: "default", Name: "after"}
	const data = `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"default","labels":{"app":"db"},` +
		`"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"stringData\":{\"password\":\"hunter2\"}}","note":"kept"}},` +
		`"type":"Opaque","data":{"password":"aHVudGVyMg=="},"stringData":{"password":"hunter2"}}`
	for _, ev := range []events.Event{
		{ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test", Ref: secret, APIVersion: "v1", Kind: "Secret", Actor: "test", RequestID: "r", Data: []byte(data)},
		{ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/test", Ref: cm, APIVersion: "v1", Kind: "ConfigMap", Actor: "test", RequestID: "r",
			Data: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"after","namespace":"default"}}`)},
	} {
		if _, err := e.log.Append(t.Context(), ev, 0); err != nil {
			t.Fatal(err)
		}
	}
	subject := secret.String()
	// Each sink gets events in log order: once the ConfigMap after the
	// Secret arrived, the Secret was delivered or skipped.
	for _, b := range []*bodies{&plain, &meta, &full} {
		b.waitFor(t, cm.String())
	}
	if plain.has(subject) {
		t.Errorf("a sink that did not opt in got the Secret: %s", plain.got[subject])
	}
	got := meta.waitFor(t, subject)
	for _, leak := range []string{"hunter2", "aHVudGVyMg==", "last-applied"} {
		if strings.Contains(got, leak) {
			t.Errorf("metadata sink got %q: %s", leak, got)
		}
	}
	for _, kept := range []string{`"name":"db"`, `"app":"db"`, `"note":"kept"`, `"type":"Opaque"`} {
		if !strings.Contains(got, kept) {
			t.Errorf("metadata sink lost %s: %s", kept, got)
		}
	}
	if got := full.waitFor(t, subject); got != data {
		t.Errorf("full sink got %s, want the Secret as written", got)
	}
}

func TestSecretsOptInIsChecked(t *testing.T) {
	for _, r := range []sink.Registration{
		{Name: "s", URL: "http://h/", Resource: "secrets"},
		{Name: "s", URL: "http://h/", Secrets: "some"},
	} {
		if _, err := r.Normalize(); err == nil {
			t.Errorf("%+v accepted", r)
		}
	}
	if _, err := (sink.Registration{Name: "s", URL: "http://h/", Resource: "secret", Secrets: sink.SecretsMetadata}).Normalize(); err != nil {
		t.Error(err)
	}
}
