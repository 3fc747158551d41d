package audit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/audit"
	"github.com/wakehq/wake/events/natstest"
)

func verify(t *testing.T, log *events.Log, seals *audit.Seals, opts audit.VerifyOptions) *audit.Report {
	t.Helper()
	r, err := audit.Verify(t.Context(), log, seals, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wantProblems checks the report's problems, each as "kind seq" or
// "kind from-through".
func wantProblems(t *testing.T, r *audit.Report, want ...string) {
	t.Helper()
	var got []string
	for _, p := range r.Problems {
		got = append(got, p.Kind+" "+p.Range())
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") || r.OK != (len(want) == 0) {
		t.Fatalf("problems %q (ok %v), want %q\n%+v", got, r.OK, want, r)
	}
}

// A purge of the log (an older stream without deny purge, or an attacker
// with the server's files) fails Verify, naming the range, although the
// purged events were all sealed.
func TestVerifyPurgeNamesTheRange(t *testing.T) {
	log, seals := openSealed(t, 20)
	for _, tc := range []struct {
		name  string
		purge []jetstream.StreamPurgeOpt
		want  string
	}{
		{"whole stream", nil, "purged 1-20"},
		{"all but the last 5", []jetstream.StreamPurgeOpt{jetstream.WithPurgeKeep(5)}, "purged 1-15"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stream, reopen := tamperable(t, log)
			if err := stream.Purge(t.Context(), tc.purge...); err != nil {
				t.Fatal(err)
			}
			r := verify(t, reopen(), seals, audit.VerifyOptions{})
			wantProblems(t, r, tc.want)
			if r.Discarded != 0 {
				t.Errorf("%d reported as discarded by retention", r.Discarded)
			}
		})
	}
}

// Events removed before the sealer read them are caught too: the seal
// after them anchors the stream, and no retention explains the gap.
func TestVerifyPurgeBeforeSealing(t *testing.T) {
	log, seals := openSealed(t, 10)
	appendN(t, log, 5) // 11-15, not yet sealed
	stream, reopen := tamperable(t, log)
	if err := stream.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	tampered := reopen()
	wantProblems(t, verify(t, tampered, seals, audit.VerifyOptions{}), "purged 1-15")
	appendN(t, tampered, 3) // 16-18: the sealer seals 11-15 as a gap
	sealAll(t, tampered, seals, 18)
	wantProblems(t, verify(t, tampered, seals, audit.VerifyOptions{}), "purged 1-15")
}

// One event deleted, with no retention: in the middle it is "removed",
// at the head (where retention would discard) it is "purged".
func TestVerifyDeletedEvent(t *testing.T) {
	log, seals := openSealed(t, 12)
	stream, reopen := tamperable(t, log)
	for _, seq := range []uint64{1, 9} {
		if err := stream.DeleteMsg(t.Context(), seq); err != nil {
			t.Fatal(err)
		}
	}
	wantProblems(t, verify(t, reopen(), seals, audit.VerifyOptions{}), "purged 1", "removed 9")
}

// Events retention discarded are explained, not reported: by a count
// limit, and by a max age once they are old enough; the seals remember
// the limit after it is lifted.
func TestVerifyRetentionExplained(t *testing.T) {
	t.Run("max msgs", func(t *testing.T) {
		log, seals := openSealed(t, 10)
		setLimits(t, log, func(c *jetstream.StreamConfig) { c.MaxMsgs = 8 })
		appendN(t, log, 10)
		sealAll(t, log, seals, 20)
		setLimits(t, log, func(c *jetstream.StreamConfig) { c.MaxMsgs = -1 }) // lifted again
		r := verify(t, log, seals, audit.VerifyOptions{})
		wantProblems(t, r)
		if r.Discarded != 12 || r.FirstSeq != 13 {
			t.Fatalf("discarded %d (first %d), want 12 (13)", r.Discarded, r.FirstSeq)
		}
	})
	t.Run("max age", func(t *testing.T) {
		log, seals := openSealed(t, 0)
		setLimits(t, log, func(c *jetstream.StreamConfig) { c.MaxAge, c.Duplicates = time.Second, 500*time.Millisecond })
		appendN(t, log, 10)
		sealAll(t, log, seals, 10)
		time.Sleep(1500 * time.Millisecond)
		appendN(t, log, 5)
		sealAll(t, log, seals, 15)
		r := verify(t, log, seals, audit.VerifyOptions{})
		wantProblems(t, r)
		if r.Discarded != 10 {
			t.Fatalf("discarded %d, want 10: %+v", r.Discarded, r)
		}
	})
	t.Run("max age cannot explain recent events", func(t *testing.T) {
		log, seals := openSealed(t, 0)
		setLimits(t, log, func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour })
		appendN(t, log, 10)
		sealAll(t, log, seals, 10)
		stream, reopen := tamperable(t, log)
		if err := stream.Purge(t.Context()); err != nil {
			t.Fatal(err)
		}
		tampered := reopen()
		setLimits(t, tampered, func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour })
		r := verify(t, tampered, seals, audit.VerifyOptions{})
		wantProblems(t, r, "purged 1-10")
		if !strings.Contains(r.Problems[0].Detail, "max age") {
			t.Errorf("detail %q", r.Problems[0].Detail)
		}
		// An hour later, the same absence is retention's doing.
		later := verify(t, tampered, seals, audit.VerifyOptions{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
		wantProblems(t, later)
	})
	// A limit an attacker sets and lifts between two seals explains nothing.
	t.Run("limit set and lifted between seals", func(t *testing.T) {
		log, seals := openSealed(t, 10)
		setLimits(t, log, func(c *jetstream.StreamConfig) { c.MaxMsgs = 2 })
		setLimits(t, log, func(c *jetstream.StreamConfig) { c.MaxMsgs = -1 })
		appendN(t, log, 2)
		sealAll(t, log, seals, 12)
		wantProblems(t, verify(t, log, seals, audit.VerifyOptions{}), "purged 1-8")
	})
}

func setLimits(t *testing.T, log *events.Log, set func(*jetstream.StreamConfig)) {
	t.Helper()
	info, err := log.Stream().Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	set(&cfg)
	if _, err := log.JetStream().UpdateStream(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
}

func userKey(t *testing.T) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return kp, pub
}

// forge publishes an event straight to the stream, as a process with no
// wake credentials would: valid CloudEvents headers, no signature.
func forge(t *testing.T, log *events.Log, name string) uint64 {
	t.Helper()
	ev := events.Event{ID: events.NewID(), Type: events.ObjectCreated, Source: "wake/gateway", Time: time.Now().UTC(),
		Ref: events.Ref{Resource: "configmaps", Namespace: "default", Name: name}, APIVersion: "v1", Kind: "ConfigMap",
		Actor: "admin", RequestID: "forged", Data: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `","namespace":"default"}}`)}
	msg, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	ack, err := log.JetStream().PublishMsg(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// Signed events verify against the trusted keys; an event published
// straight to the stream (unsigned), one signed by a foreign key, and one
// outside its signer's subjects are named; unsigned events from before
// the first signed one are accepted as older than signing.
func TestVerifySignatures(t *testing.T) {
	gw, gwPub := userKey(t)
	foreign, _ := userKey(t)
	_, nc := natstest.Start(t)
	unsigned, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	seals, err := audit.OpenSeals(t.Context(), unsigned.JetStream(), true)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, unsigned, 3)              // 1-3: before wake signed
	signed, _ := unsigned.WithSigner(gw) //
	appendN(t, signed, 4)                // 4-7
	forged := forge(t, signed, "forged") // 8
	mallory, _ := unsigned.WithSigner(foreign)
	appendN(t, mallory, 1) // 9
	appendN(t, signed, 1)  // 10
	sealAll(t, signed, seals, 9)
	tail := forge(t, signed, "after-seals") // 11: after the last seal

	trust := audit.Trust{gwPub: {Name: "gateway"}}
	r := verify(t, signed, seals, audit.VerifyOptions{Trust: trust})
	wantProblems(t, r, fmt.Sprint("unsigned ", forged), "untrusted 9", fmt.Sprint("unsigned ", tail))
	if r.SignedFrom != 4 || r.UnsignedBeforeSigning != 3 || r.SignedEvents != 5 || r.Signatures != "checked" {
		t.Fatalf("signed from %d, %d unsigned before, %d signed, %q", r.SignedFrom, r.UnsignedBeforeSigning, r.SignedEvents, r.Signatures)
	}
	if d := r.Problems[0].Detail; !strings.Contains(d, `actor "admin"`) || !strings.Contains(d, "not signed") {
		t.Errorf("detail %q", d)
	}

	// A role restricted to subjects may not sign others.
	agentOnly := audit.Trust{gwPub: {Name: "agent", Subjects: []string{"wake.obj.core.pods.>", "wake.obj.core.nodes.>"}}}
	r = verify(t, signed, seals, audit.VerifyOptions{Trust: agentOnly})
	if r.OK || r.Problems[0].Kind != "untrusted" || r.Problems[0].Seq != 4 {
		t.Fatalf("an agent key signing ConfigMaps: %+v", r.Problems)
	}

	// Without a trust, signatures are not checked, and say so.
	r = verify(t, signed, seals, audit.VerifyOptions{})
	wantProblems(t, r)
	if r.Signatures != audit.NotChecked {
		t.Fatalf("signatures %q", r.Signatures)
	}
}

// Seals written by an older wake (v1: no anchor) still verify, and the
// chain continues with v2 seals; a purge under v1 seals with no retention
// now is still caught.
func TestVerifyV1Seals(t *testing.T) {
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	seals, err := audit.OpenSeals(t.Context(), log.JetStream(), true)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, log, 10)
	prev, expect := "", uint64(0)
	for _, r := range [][2]uint64{{1, 5}, {6, 10}} {
		prev, expect = writeV1Seal(t, log, r[0], r[1], prev, expect)
	}
	appendN(t, log, 5)
	sealAll(t, log, seals, 15)
	var formats []string
	seals.All(t.Context(), func(s *audit.Seal) error { formats = append(formats, s.Format); return nil })
	if formats[0] != audit.SealFormatV1 || formats[len(formats)-1] != audit.SealFormat {
		t.Fatalf("seal formats %v", formats)
	}
	r := verify(t, log, seals, audit.VerifyOptions{})
	wantProblems(t, r)
	if r.SealedEvents != 15 {
		t.Fatalf("sealed %d", r.SealedEvents)
	}

	stream, reopen := tamperable(t, log)
	if err := stream.Purge(t.Context(), jetstream.WithPurgeSequence(8)); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, verify(t, reopen(), seals, audit.VerifyOptions{}), "purged 1-7")
}

// writeV1Seal appends a seal as wake.audit.seal.v1 wrote it.
func writeV1Seal(t *testing.T, log *events.Log, first, last uint64, prev string, expect uint64) (string, uint64) {
	t.Helper()
	sl := audit.Seal{Format: audit.SealFormatV1, First: first, Last: last, Prev: prev, Time: time.Now().UTC().Format(time.RFC3339Nano)}
	h := sha256.New()
	h.Write([]byte(prev))
	for seq := first; seq <= last; seq++ {
		ev, err := log.Get(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		d := audit.Digest(ev)
		sl.Digests, sl.Seqs = append(sl.Digests, d), append(sl.Seqs, seq)
		h.Write([]byte(d))
	}
	sl.Chain = hex.EncodeToString(h.Sum(nil))
	data, _ := json.Marshal(sl)
	msg := &nats.Msg{Subject: audit.SealSubject, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, fmt.Sprint(expect))
	ack, err := log.JetStream().PublishMsg(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return sl.Chain, ack.Sequence
}

// An operator's removal record (audit.Remove, `wake audit remove`)
// explains a forged event, present or later deleted; a record not signed
// by a key trusted to remove explains nothing.
func TestRemoveExplainsTheEvent(t *testing.T) {
	gw, gwPub := userKey(t)
	admin, adminPub := userKey(t)
	log, seals := openSigned(t, gw)
	appendN(t, log, 5)
	forged := forge(t, log, "poison")
	appendN(t, log, 2)
	sealAll(t, log, seals, 8)
	trust := audit.Trust{gwPub: {Name: "gateway"}, adminPub: {Name: "admin", Subjects: []string{audit.RemovalSubject}}}
	wantProblems(t, verify(t, log, seals, audit.VerifyOptions{Trust: trust}), fmt.Sprint("unsigned ", forged))

	if _, err := audit.Remove(t.Context(), log, seals, forged, audit.RemoveOptions{Actor: "ops@example", Signer: admin}); err == nil {
		t.Fatal("a removal without a reason was recorded")
	}
	rm, err := audit.Remove(t.Context(), log, seals, forged, audit.RemoveOptions{Reason: "forged by the probe of issue 12", Actor: "ops@example", Signer: admin})
	if err != nil {
		t.Fatal(err)
	}
	if rm.Digest == "" || rm.RawDigest == "" || rm.Signer != adminPub || rm.Subject == "" {
		t.Fatalf("record %+v", rm)
	}
	r := verify(t, log, seals, audit.VerifyOptions{Trust: trust})
	wantProblems(t, r)
	if len(r.Removed) != 1 || r.Removed[0].Seq != forged || r.Removed[0].Reason != "forged by the probe of issue 12" {
		t.Fatalf("removed %+v", r.Removed)
	}
	// The sealer still seals after a removal record sits in WAKE_AUDIT.
	appendN(t, log, 1)
	sealAll(t, log, seals, 9)

	// Gone from the stream (an administrator with the server's files):
	// the record explains the gap.
	stream, reopen := tamperable(t, log)
	if err := stream.DeleteMsg(t.Context(), forged); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, verify(t, reopen(), seals, audit.VerifyOptions{Trust: trust}))

	// The gateway's key may not remove events.
	rogue, err := audit.Remove(t.Context(), log, seals, 2, audit.RemoveOptions{Reason: "hide it", Actor: "gateway", Signer: gw})
	if err != nil {
		t.Fatal(err)
	}
	r = verify(t, log, seals, audit.VerifyOptions{Trust: trust})
	wantProblems(t, r, "removal 2")
	if !strings.Contains(r.Problems[0].Detail, "not signed by a signer trusted to remove") || rogue.Seq != 2 {
		t.Fatalf("%+v", r.Problems)
	}
	// Garbage on the removal subject is a finding, not a failure to verify.
	if _, err := log.JetStream().Publish(t.Context(), audit.RemovalSubject, []byte("{")); err != nil {
		t.Fatal(err)
	}
	wantProblems(t, verify(t, log, seals, audit.VerifyOptions{Trust: trust}), "removal 0", "removal 2")
}

// The seal stream, like the log, denies deleting and purging.
func TestSealStreamDeniesPurge(t *testing.T) {
	_, nc := natstest.Start(t)
	js, _ := jetstream.New(nc)
	// As an older wake made it.
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: audit.StreamName, Subjects: []string{audit.SealSubject},
		Storage: jetstream.MemoryStorage, DenyDelete: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.OpenSeals(t.Context(), js, true); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(t.Context(), audit.StreamName)
	c := s.CachedInfo().Config
	if !c.DenyPurge || !c.DenyDelete || len(c.Subjects) != 2 {
		t.Fatalf("seal stream %+v", c)
	}
}

// openSigned opens a log signing with kp, and its seal stream.
func openSigned(t *testing.T, kp nkeys.KeyPair) (*events.Log, *audit.Seals) {
	t.Helper()
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{Memory: true, Signer: kp})
	if err != nil {
		t.Fatal(err)
	}
	seals, err := audit.OpenSeals(t.Context(), log.JetStream(), true)
	if err != nil {
		t.Fatal(err)
	}
	return log, seals
}
