package projections

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoSnapshot means no snapshot has been saved yet.
var ErrNoSnapshot = errors.New("no snapshot")

// SnapshotBucket is the JetStream object store bucket holding snapshots.
const SnapshotBucket = "WAKE_SNAPSHOTS"

const snapshotObject = "projection"

// Snapshots stores projection snapshots in a JetStream object store, so that
// a restart replays only the events after the last one.
type Snapshots struct {
	store jetstream.ObjectStore
}

// OpenSnapshots creates or adopts the snapshot bucket. replicas 0 adopts
// an existing bucket as it is (creating it with one replica if absent).
func OpenSnapshots(ctx context.Context, js jetstream.JetStream, replicas int, memory bool) (*Snapshots, error) {
	if replicas <= 0 {
		if store, err := js.ObjectStore(ctx, SnapshotBucket); err == nil {
			return &Snapshots{store: store}, nil
		}
		replicas = 1
	}
	storage := jetstream.FileStorage
	if memory {
		storage = jetstream.MemoryStorage
	}
	store, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      SnapshotBucket,
		Description: "wake projection snapshots",
		Replicas:    replicas,
		Storage:     storage,
		Compression: true,
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot bucket: %w", err)
	}
	return &Snapshots{store: store}, nil
}

// Save stores objects (in subject order) and the quarantined messages as
// the state at seq.
func (s *Snapshots) Save(ctx context.Context, seq uint64, objs []*Object, quarantined []Quarantined) error {
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, seq, objs, quarantined); err != nil {
		return err
	}
	_, err := s.store.Put(ctx, jetstream.ObjectMeta{
		Name:    snapshotObject,
		Headers: map[string][]string{"Wake-Seq": {strconv.FormatUint(seq, 10)}, "Wake-Format": {snapshotFormatOf(quarantined)}},
	}, &buf)
	return err
}

// Load reads the latest snapshot.
func (s *Snapshots) Load(ctx context.Context) (*State, error) {
	res, err := s.store.Get(ctx, snapshotObject)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ErrNoSnapshot
	}
	if err != nil {
		return nil, err
	}
	defer res.Close()
	return ReadSnapshot(res)
}

func snapshotFormatOf(quarantined []Quarantined) string {
	if len(quarantined) > 0 {
		return SnapshotFormatV2
	}
	return SnapshotFormatV1
}
