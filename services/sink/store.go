package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the key-value bucket holding the registrations, one key per
// sink name.
const Bucket = "WAKE_SINKS"

// Store is the registrations bucket.
type Store struct {
	kv jetstream.KeyValue
}

// OpenStore creates or adopts the bucket. replicas 0 keeps an existing
// bucket's replicas (1 when creating).
func OpenStore(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	if replicas == 0 {
		if kv, err := js.KeyValue(ctx, Bucket); err == nil {
			return &Store{kv: kv}, nil
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "wake CloudEvents HTTP sinks (one registration per key)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("sink bucket %s: %w", Bucket, err)
	}
	return &Store{kv: kv}, nil
}

// Add validates r and stores it; a sink of the same name must not exist
// (registrations are immutable: remove and add again to change one).
func (s *Store) Add(ctx context.Context, r Registration) (Registration, error) {
	r, err := r.Normalize()
	if err != nil {
		return r, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return r, err
	}
	if _, err := s.kv.Create(ctx, r.Name, b); errors.Is(err, jetstream.ErrKeyExists) {
		return r, fmt.Errorf("sink %q already exists; remove it first (wake sink rm %s)", r.Name, r.Name)
	} else if err != nil {
		return r, fmt.Errorf("add sink %q: %w", r.Name, err)
	}
	return r, nil
}

// Remove deletes sink name; the service then deletes its consumer.
func (s *Store) Remove(ctx context.Context, name string) error {
	if _, err := s.kv.Get(ctx, name); errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return fmt.Errorf("no sink %q (wake sink ls lists them)", name)
	} else if err != nil {
		return fmt.Errorf("remove sink %q: %w", name, err)
	}
	if err := s.kv.Delete(ctx, name); err != nil {
		return fmt.Errorf("remove sink %q: %w", name, err)
	}
	return nil
}

// List is every registration, by name. One that no longer validates is
// returned with its error rather than hidden.
func (s *Store) List(ctx context.Context) ([]Registration, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list sinks: %w", err)
	}
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	slices.Sort(names)
	var out []Registration
	for _, name := range names {
		e, err := s.kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("sink %q: %w", name, err)
		}
		r, err := parse(e.Value())
		if err != nil {
			return nil, fmt.Errorf("sink %q: %w", name, err)
		}
		out = append(out, r)
	}
	return out, nil
}
