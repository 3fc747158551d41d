package lease

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
)

// HeartbeatBucket is the key-value bucket holding node heartbeats.
const HeartbeatBucket = "WAKE_NODE_HEARTBEATS"

// beat is the value of a heartbeat key.
type beat struct {
	Time string `json:"time"` // RFC 3339 with nanoseconds, UTC
}

// OpenHeartbeats creates or adopts the heartbeat bucket. Only the latest
// heartbeat of each node is kept.
func OpenHeartbeats(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      HeartbeatBucket,
		Description: "wake node heartbeats (latest per node)",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("heartbeat bucket %s: %w", HeartbeatBucket, err)
	}
	return kv, nil
}

// Heartbeat records that node is alive at now. Agents call it every few
// seconds; benchmarks call it for their fake nodes.
func Heartbeat(ctx context.Context, js jetstream.JetStream, node string, now time.Time) error {
	kv, err := OpenHeartbeats(ctx, js)
	if err != nil {
		return err
	}
	return Beat(ctx, kv, node, now)
}

// Beat is Heartbeat on an opened bucket (no bucket lookup per call).
func Beat(ctx context.Context, kv jetstream.KeyValue, node string, now time.Time) error {
	b, _ := json.Marshal(beat{Time: now.UTC().Format(time.RFC3339Nano)})
	if _, err := kv.Put(ctx, events.EncodeToken(node), b); err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", node, err)
	}
	return nil
}

// LastHeartbeat returns the latest heartbeat of node; ok is false when the
// node never sent one.
func LastHeartbeat(ctx context.Context, kv jetstream.KeyValue, node string) (t time.Time, ok bool, err error) {
	e, err := kv.Get(ctx, events.EncodeToken(node))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	t, err = decodeBeat(e.Value())
	return t, err == nil, err
}

func decodeBeat(v []byte) (time.Time, error) {
	var b beat
	if err := json.Unmarshal(v, &b); err != nil {
		return time.Time{}, fmt.Errorf("heartbeat: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, b.Time)
	if err != nil {
		return time.Time{}, fmt.Errorf("heartbeat: %w", err)
	}
	return t, nil
}

// WatchHeartbeats calls fn with every node's latest heartbeat, then with
// each new one, until ctx ends. Keys that do not decode are skipped.
func WatchHeartbeats(ctx context.Context, kv jetstream.KeyValue, fn func(node string, t time.Time)) error {
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("watch %s: %w", HeartbeatBucket, err)
	}
	defer w.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				continue // end of the initial values
			}
			node, err := events.DecodeToken(e.Key())
			if err != nil {
				continue
			}
			if t, err := decodeBeat(e.Value()); err == nil {
				fn(node, t)
			}
		case <-ctx.Done():
			return nil
		}
	}
}
