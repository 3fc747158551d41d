package audit_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events/audit"
	"github.com/wakehq/wake/events/natstest"
)

// A message that is not an event does not stop the sealer: it is sealed
// by its raw digest, the events after it are sealed too, and Verify lists
// it as quarantined, not as a problem. Altered afterwards, it is one.
func TestSealerSealsPoison(t *testing.T) {
	_, nc := natstest.Start(t)
	log := openTamperable(t, nc)
	seals, err := audit.OpenSeals(t.Context(), log.JetStream(), true)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, log, 3)
	poison := &nats.Msg{Subject: "wake.obj.core.configmaps.default.garbage", Data: []byte("not an event")}
	if _, err := log.JetStream().PublishMsg(t.Context(), poison); err != nil {
		t.Fatal(err)
	}
	seq, err := log.JetStream().PublishMsg(t.Context(), &nats.Msg{Subject: "wake.obj.core.configmaps.default.garbage", Data: []byte("another")})
	if err != nil {
		t.Fatal(err)
	}
	sealAll(t, log, seals, seq.Sequence)
	r, err := audit.Verify(t.Context(), log, seals)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || len(r.Quarantined) != 2 || r.Quarantined[0].Seq != 4 || r.SealedEvents != 5 {
		t.Fatalf("want a clean log with event 4 quarantined, got %+v", r)
	}
	// Replace it (delete, publish an altered copy): now it is a problem.
	if err := log.Stream().DeleteMsg(t.Context(), 4); err != nil {
		t.Fatal(err)
	}
	r, err = audit.Verify(t.Context(), log, seals)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || len(r.Problems) != 1 || r.Problems[0].Kind != "removed" {
		t.Fatalf("want event 4 removed, got %+v", r)
	}
}
