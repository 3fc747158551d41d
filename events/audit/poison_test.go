package audit_test

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events/audit"
)

// A message that is not an event does not stop the sealer: it is sealed
// by its raw digest, the events after it are sealed too, and Verify lists
// it as quarantined. Once the log is signed and signers are trusted it is
// also a problem (no wake writer wrote it) until an operator records its
// removal.
func TestSealerSealsPoison(t *testing.T) {
	gw, gwPub := userKey(t)
	admin, adminPub := userKey(t)
	log, seals := openSigned(t, gw)
	appendN(t, log, 3)
	var poison []uint64
	for _, data := range []string{"not an event", "another"} {
		ack, err := log.JetStream().PublishMsg(t.Context(), &nats.Msg{Subject: "wake.obj.core.configmaps.default.garbage", Data: []byte(data)})
		if err != nil {
			t.Fatal(err)
		}
		poison = append(poison, ack.Sequence)
	}
	appendN(t, log, 1)
	sealAll(t, log, seals, 6)

	r := verify(t, log, seals, audit.VerifyOptions{})
	wantProblems(t, r)
	if len(r.Quarantined) != 2 || r.Quarantined[0].Seq != poison[0] || r.SealedEvents != 6 {
		t.Fatalf("want events %v quarantined, got %+v", poison, r)
	}
	trust := audit.Trust{gwPub: {Name: "gateway"}, adminPub: {Name: "admin", Subjects: []string{audit.RemovalSubject}}}
	wantProblems(t, verify(t, log, seals, audit.VerifyOptions{Trust: trust}), fmt.Sprint("unsigned ", poison[0]), fmt.Sprint("unsigned ", poison[1]))
	for _, seq := range poison {
		if _, err := audit.Remove(t.Context(), log, seals, seq, audit.RemoveOptions{Reason: "poison", Actor: "ops", Signer: admin}); err != nil {
			t.Fatal(err)
		}
	}
	wantProblems(t, verify(t, log, seals, audit.VerifyOptions{Trust: trust}))
}
