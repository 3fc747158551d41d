package events_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
)

func newKey(t *testing.T) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return kp, pub
}

// A Log with a signer signs what Append and AppendBatch write; the
// signature covers every field but the sequence, and a reader can check it.
func TestSignedAppend(t *testing.T) {
	kp, pub := newKey(t)
	_, nc := natstest.Start(t)
	l, err := events.Open(t.Context(), nc, events.Config{Memory: true, Signer: kp})
	if err != nil {
		t.Fatal(err)
	}
	if l.Signer() != pub {
		t.Fatalf("Signer() = %q, want %q", l.Signer(), pub)
	}
	mustAppend(t, l, newEvent(cm("default", "a"), events.ObjectCreated, ""), 0)
	for _, r := range l.AppendBatch(t.Context(), []events.Pending{{Event: newEvent(cm("default", "b"), events.ObjectCreated, "")}}) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	unsigned, err := l.WithSigner(nil)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, unsigned, newEvent(cm("default", "c"), events.ObjectCreated, ""), 0)

	key, err := events.ParseSigner(pub)
	if err != nil {
		t.Fatal(err)
	}
	for seq, want := range map[uint64]error{1: nil, 2: nil, 3: events.ErrUnsigned} {
		ev, err := l.Get(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if err := events.VerifySignature(ev, key); !errors.Is(err, want) {
			t.Errorf("event %d: VerifySignature = %v, want %v", seq, err, want)
		}
		if want == nil && ev.Signer != pub {
			t.Errorf("event %d: signer %q, want %q", seq, ev.Signer, pub)
		}
	}

	ev, _ := l.Get(t.Context(), 1)
	for name, alter := range map[string]func(*events.Event){
		"actor":  func(e *events.Event) { e.Actor = "mallory" },
		"data":   func(e *events.Event) { e.Data = []byte(`{}`) },
		"time":   func(e *events.Event) { e.Time = e.Time.Add(1) },
		"object": func(e *events.Event) { e.Ref.Name = "z" },
		"type":   func(e *events.Event) { e.Type = events.ObjectDeleted },
	} {
		forged := ev
		alter(&forged)
		if err := events.VerifySignature(forged, key); !errors.Is(err, events.ErrBadSignature) {
			t.Errorf("%s altered: VerifySignature = %v, want ErrBadSignature", name, err)
		}
	}
	other, _ := newKey(t)
	otherPub, _ := other.PublicKey()
	otherKey, _ := events.ParseSigner(otherPub)
	if err := events.VerifySignature(ev, otherKey); !errors.Is(err, events.ErrBadSignature) {
		t.Errorf("another key: VerifySignature = %v", err)
	}
	// The signature travels with the CloudEvent (sinks, /events).
	ce, err := ev.CloudEvent()
	if err != nil || ce.Extensions()["wakesigner"] != pub || ce.Extensions()["wakesignature"] != ev.Signature {
		t.Errorf("CloudEvent extensions %v, %v", ce.Extensions(), err)
	}
}

// A role signs with the key of its NATS identity: a seed file or a
// credentials file; a public key alone cannot sign.
func TestLoadSigner(t *testing.T) {
	kp, pub := newKey(t)
	seed, _ := kp.Seed()
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "seed.nk")
	creds := filepath.Join(dir, "user.creds")
	os.WriteFile(seedFile, seed, 0o600)
	os.WriteFile(creds, []byte("-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.x\n------END NATS USER JWT------\n\n"+
		"-----BEGIN USER NKEY SEED-----\n"+string(seed)+"\n------END USER NKEY SEED------\n"), 0o600)
	for _, f := range []string{seedFile, creds} {
		got, err := events.LoadSigner(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if p, _ := got.PublicKey(); p != pub {
			t.Errorf("%s: key %s, want %s", f, p, pub)
		}
	}
	public, _ := nkeys.FromPublicKey(pub)
	_, nc := natstest.Start(t)
	if _, err := events.Open(t.Context(), nc, events.Config{Memory: true, Signer: public}); err == nil {
		t.Error("Open with a public key as signer succeeded")
	}
}
