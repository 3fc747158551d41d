package events

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

// BenchmarkEncode is the CPU an append spends before it publishes: the
// envelope alone, and signed (SigningDigest and an ed25519 signature
// over it), for a 2 KiB object.
//
//	go test ./events -run '^$' -bench Encode
func BenchmarkEncode(b *testing.B) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		b.Fatal(err)
	}
	s, err := newSigner(kp)
	if err != nil {
		b.Fatal(err)
	}
	ev := Event{
		ID: NewID(), Type: ObjectUpdated, Change: ChangeSpec, Time: time.Now().UTC(),
		Source: "wake/bench", Ref: Ref{Resource: "configmaps", Namespace: "bench", Name: "cm"},
		APIVersion: "v1", Kind: "ConfigMap", Actor: "bench", RequestID: "bench",
		Data: fmt.Appendf(nil, `{"pad":%q}`, bytes.Repeat([]byte("x"), 2040)),
	}
	for _, l := range []struct {
		name string
		log  *Log
	}{{"unsigned", &Log{}}, {"signed", &Log{signer: s}}} {
		b.Run(l.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := l.log.encode(ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
