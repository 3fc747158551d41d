package embedded_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events/access"
	"github.com/wakehq/wake/events/embedded"
)

// A data directory written before wake had authentication keeps its log:
// the anonymous account's files move to the account WAKE.
func TestAdoptsTheStoreOfAnAnonymousServer(t *testing.T) {
	dir := t.TempDir()
	s, err := embedded.Start(embedded.Options{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := embedded.Connect(s, "before")
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "OLD", Subjects: []string{"old.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), "old.x", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	s.Shutdown()
	s.WaitForShutdown()

	auth, err := access.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err = embedded.Start(embedded.Options{Dir: dir, NoSync: true, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	u, err := auth.Issue(access.Up, "", "after")
	if err != nil {
		t.Fatal(err)
	}
	nc, err = embedded.Connect(s, "after", u.Option())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	st, err := js.Stream(t.Context(), "OLD")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(t.Context(), 1)
	if err != nil || string(m.Data) != "kept" {
		t.Fatalf("message 1 = %v, %v; want kept", m, err)
	}
}
