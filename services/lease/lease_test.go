package lease_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/services/lease"
)

// fast keeps the tests short: the same ratios as the defaults, scaled down.
var fast = lease.Options{TTL: 1500 * time.Millisecond, Renew: 500 * time.Millisecond, Retry: 100 * time.Millisecond}

// candidate runs one RunWith in the background and records when its fn runs.
type candidate struct {
	id      string
	running atomic.Bool
	starts  atomic.Int32
	cancel  context.CancelFunc
	done    chan error
}

func startCandidate(t *testing.T, js jetstream.JetStream, id string, overlap *atomic.Int32) *candidate {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	c := &candidate{id: id, cancel: cancel, done: make(chan error, 1)}
	go func() {
		c.done <- lease.RunWith(ctx, js, "controllers", id, fast, func(ctx context.Context) error {
			if overlap.Add(1) > 1 {
				t.Errorf("%s runs while another holder runs", id)
			}
			c.running.Store(true)
			c.starts.Add(1)
			<-ctx.Done()
			c.running.Store(false)
			overlap.Add(-1)
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-c.done })
	return c
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, within)
	return 0
}

func TestOneHolderThenTakeover(t *testing.T) {
	_, nc := natstest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var overlap atomic.Int32
	a := startCandidate(t, js, "a", &overlap)
	waitUntil(t, 2*time.Second, "a holds", a.running.Load)
	b := startCandidate(t, js, "b", &overlap)
	time.Sleep(3 * fast.Renew) // b stands by through several renewals
	if b.running.Load() || !a.running.Load() {
		t.Fatalf("a running %v, b running %v; want only a", a.running.Load(), b.running.Load())
	}
	kv, err := lease.Open(t.Context(), js, fast)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := lease.Holder(t.Context(), kv, "controllers"); err != nil || h != "a" {
		t.Fatalf("holder = %q, %v; want a", h, err)
	}

	a.cancel() // a stops and releases: b takes over without waiting for the TTL
	if err := <-a.done; err != nil {
		t.Fatalf("a: Run returned %v, want nil on cancel", err)
	}
	a.done <- nil // for the cleanup
	took := waitUntil(t, 2*time.Second, "b takes over", b.running.Load)
	t.Logf("takeover after a clean stop: %s", took)
	if h, _ := lease.Holder(t.Context(), kv, "controllers"); h != "b" {
		t.Fatalf("holder = %q, want b", h)
	}
}

func TestCrashedHolderExpires(t *testing.T) {
	s, nc := natstest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// a runs on its own connection, which the test closes: a crash (no
	// release, no renewal).
	nc2, err := natsConnect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	js2, _ := jetstream.New(nc2)
	var overlap atomic.Int32
	a := startCandidate(t, js2, "a", &overlap)
	waitUntil(t, 2*time.Second, "a holds", a.running.Load)
	b := startCandidate(t, js, "b", &overlap)
	nc2.Close()
	// a stops within one renewal period (its renewal fails) and b takes
	// over once the TTL has expired.
	waitUntil(t, 2*fast.Renew, "a stops", func() bool { return !a.running.Load() })
	took := waitUntil(t, fast.TTL+time.Second, "b takes over", b.running.Load)
	t.Logf("takeover after a crash: %s (TTL %s)", took, fast.TTL)
}

func TestLostLeaseStopsWithinOneRenewal(t *testing.T) {
	_, nc := natstest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var overlap atomic.Int32
	a := startCandidate(t, js, "a", &overlap)
	waitUntil(t, 2*time.Second, "a holds", a.running.Load)
	kv, err := lease.Open(t.Context(), js, fast)
	if err != nil {
		t.Fatal(err)
	}
	// Someone else takes the key: a's next compare-and-set fails.
	if err := kv.Delete(t.Context(), events.EncodeToken("controllers")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(t.Context(), events.EncodeToken("controllers"), []byte(`{"holder":"intruder"}`)); err != nil {
		t.Fatal(err)
	}
	took := waitUntil(t, fast.Renew+200*time.Millisecond, "a stops", func() bool { return !a.running.Load() })
	t.Logf("stopped %s after losing the lease (renew period %s)", took, fast.Renew)
	// The intruder never renews: after the TTL, a holds again.
	waitUntil(t, fast.TTL+time.Second, "a holds again", a.running.Load)
	if a.starts.Load() != 2 {
		t.Fatalf("a started %d times, want 2", a.starts.Load())
	}
}

func TestFnErrorEndsRun(t *testing.T) {
	_, nc := natstest.Start(t)
	js, _ := jetstream.New(nc)
	var once sync.Once
	err := lease.RunWith(t.Context(), js, "x", "a", fast, func(ctx context.Context) error {
		var e error
		once.Do(func() { e = context.DeadlineExceeded })
		return e
	})
	if err != context.DeadlineExceeded {
		t.Fatalf("Run = %v, want fn's error", err)
	}
	kv, _ := lease.Open(t.Context(), js, fast)
	if h, _ := lease.Holder(t.Context(), kv, "x"); h != "" {
		t.Fatalf("holder = %q after fn returned, want released", h)
	}
}

func TestHeartbeats(t *testing.T) {
	_, nc := natstest.Start(t)
	js, _ := jetstream.New(nc)
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := lease.Heartbeat(t.Context(), js, "node.1", now); err != nil {
		t.Fatal(err)
	}
	kv, err := lease.OpenHeartbeats(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := lease.LastHeartbeat(t.Context(), kv, "node.1")
	if err != nil || !ok || !got.Equal(now) {
		t.Fatalf("LastHeartbeat = %v %v %v, want %v", got, ok, err, now)
	}
	if _, ok, err := lease.LastHeartbeat(t.Context(), kv, "node-2"); ok || err != nil {
		t.Fatalf("node-2: ok %v err %v, want none", ok, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	seen := make(chan string, 4)
	go lease.WatchHeartbeats(ctx, kv, func(node string, ts time.Time) { seen <- node + " " + ts.Format(time.RFC3339Nano) })
	defer cancel()
	if s := <-seen; s != "node.1 "+now.Format(time.RFC3339Nano) {
		t.Fatalf("watch saw %q", s)
	}
	later := now.Add(time.Second)
	if err := lease.Beat(t.Context(), kv, "node.1", later); err != nil {
		t.Fatal(err)
	}
	if s := <-seen; s != "node.1 "+later.Format(time.RFC3339Nano) {
		t.Fatalf("watch saw %q", s)
	}
}
