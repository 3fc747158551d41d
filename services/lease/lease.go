package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
)

// Bucket is the key-value bucket holding leader leases.
const Bucket = "WAKE_LEASES"

// Options tune a lease. The zero value means the defaults.
type Options struct {
	// TTL is how long a lease lives without renewal: the bucket's TTL.
	// Default 6s. Every user of the bucket must agree on it (Run updates
	// the bucket to its own TTL).
	TTL time.Duration
	// Renew is the holder's renewal period; default TTL/3. A renewal that
	// has not succeeded within Renew counts as failed.
	Renew time.Duration
	// Retry is how often a standby tries to take the lease; default 1s.
	Retry time.Duration
	// Replicas of the bucket (1 or 3); default 1.
	Replicas int
	Logger   *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = 6 * time.Second
	}
	if o.Renew <= 0 {
		o.Renew = o.TTL / 3
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Record is the value of a lease key.
type Record struct {
	Holder   string    `json:"holder"`
	Acquired time.Time `json:"acquired"`
	Renewed  time.Time `json:"renewed"`
}

// Open creates or adopts the lease bucket with the given TTL.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (jetstream.KeyValue, error) {
	o = o.withDefaults()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "wake leader leases",
		History:     1,
		TTL:         o.TTL,
		Replicas:    o.Replicas,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("lease bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// Holder returns the current holder of the lease name, "" when nobody
// holds it.
func Holder(ctx context.Context, kv jetstream.KeyValue, name string) (string, error) {
	e, err := kv.Get(ctx, events.EncodeToken(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return "", fmt.Errorf("lease %s: %w", name, err)
	}
	return r.Holder, nil
}

// Run runs fn only while holderID holds the lease name, with the default
// options. See RunWith.
func Run(ctx context.Context, js jetstream.JetStream, name, holderID string, fn func(ctx context.Context) error) error {
	return RunWith(ctx, js, name, holderID, Options{}, fn)
}

// RunWith takes the lease name (waiting as a standby while another holder
// has it), runs fn while holding it, and renews it. When a renewal fails,
// fn's context is cancelled at once, Run waits for fn to return and tries
// to take the lease again. When ctx ends, fn is cancelled, the lease is
// released (so a standby takes over without waiting for the TTL) and Run
// returns nil. When fn returns by itself, the lease is released and Run
// returns fn's error.
func RunWith(ctx context.Context, js jetstream.JetStream, name, holderID string, o Options, fn func(ctx context.Context) error) error {
	o = o.withDefaults()
	if holderID == "" {
		return fmt.Errorf("lease %s: holder id is required", name)
	}
	kv, err := Open(ctx, js, o)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	l := &holding{kv: kv, key: events.EncodeToken(name), name: name, holder: holderID, o: o}
	for {
		if !l.acquire(ctx) {
			return nil
		}
		o.Logger.Info("lease acquired", "lease", name, "holder", holderID)
		lost, err := l.hold(ctx, fn)
		if !lost {
			return err
		}
		o.Logger.Warn("lease lost; standing by", "lease", name, "holder", holderID)
	}
}

type holding struct {
	kv     jetstream.KeyValue
	key    string
	name   string
	holder string
	o      Options
	rev    uint64
	since  time.Time
}

func (l *holding) value(now time.Time) []byte {
	b, _ := json.Marshal(Record{Holder: l.holder, Acquired: l.since, Renewed: now.UTC()})
	return b
}

// acquire tries Create until it succeeds (true) or ctx ends (false).
func (l *holding) acquire(ctx context.Context) bool {
	t := time.NewTicker(l.o.Retry)
	defer t.Stop()
	for {
		l.since = time.Now().UTC()
		actx, cancel := context.WithTimeout(ctx, l.o.Retry)
		rev, err := l.kv.Create(actx, l.key, l.value(l.since))
		cancel()
		if err == nil {
			l.rev = rev
			return true
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
			l.o.Logger.Debug("lease not acquired", "lease", l.name, "err", err)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
}

// hold runs fn and renews the lease. lost reports that a renewal failed
// (fn was stopped); otherwise fn or ctx ended and err is fn's error.
func (l *holding) hold(ctx context.Context, fn func(ctx context.Context) error) (lost bool, err error) {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(fctx) }()
	t := time.NewTicker(l.o.Renew)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			l.release()
			if ctx.Err() != nil {
				return false, nil
			}
			return false, err
		case <-ctx.Done():
			cancel()
			<-done
			l.release()
			return false, nil
		case <-t.C:
			rctx, rcancel := context.WithTimeout(ctx, l.o.Renew)
			rev, err := l.kv.Update(rctx, l.key, l.value(time.Now()), l.rev)
			rcancel()
			if err != nil {
				if ctx.Err() != nil {
					continue // shutting down: the ctx case releases
				}
				cancel()
				<-done
				l.o.Logger.Warn("lease renewal failed", "lease", l.name, "holder", l.holder, "err", err)
				return true, nil
			}
			l.rev = rev
		}
	}
}

// release deletes the lease if it is still ours, so a standby need not
// wait for the TTL.
func (l *holding) release() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev)); err != nil {
		l.o.Logger.Debug("lease not released", "lease", l.name, "err", err)
	}
}
