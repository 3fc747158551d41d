package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// Config is the stream configuration wake asks for.
type Config struct {
	// Replicas of the stream: 1 (the default when creating) or 3 for a
	// NATS cluster. 0 keeps an existing stream's replicas.
	Replicas int
	// Memory selects memory storage instead of file storage (tests only).
	Memory bool
	// MaxAge discards events older than this; 0 keeps them forever.
	MaxAge time.Duration
	// MaxBytes discards the oldest events beyond this size; 0 is unlimited.
	MaxBytes int64
	// KeepMaxAge and KeepMaxBytes leave an existing stream's limit as it
	// is instead of setting it to MaxAge or MaxBytes: a role that was not
	// told a retention must not lift one another role set. They change
	// nothing when the stream is created.
	KeepMaxAge, KeepMaxBytes bool
	// MaxMsgSize is the largest event (headers and data); default 4 MiB.
	// The server's max_payload (1 MiB unless configured) also applies.
	MaxMsgSize int32
	// Duplicates is the window in which JetStream drops a re-published
	// event id; default 2 minutes, never more than MaxAge.
	Duplicates time.Duration
	// Signer, when set, signs every event the Log appends (ce-wakesigner,
	// ce-wakesignature; see sign.go), so the audit can tell the events of
	// wake's writers from any other publish. nil appends unsigned events.
	Signer nkeys.KeyPair
}

const (
	defaultMaxMsgSize = 4 << 20
	defaultDuplicates = 2 * time.Minute
)

// streamConfig is the stream wake wants for cfg.
func (cfg Config) streamConfig() (jetstream.StreamConfig, error) {
	if cfg.Replicas < 0 || cfg.MaxAge < 0 || cfg.MaxBytes < 0 || cfg.MaxMsgSize < 0 || cfg.Duplicates < 0 {
		return jetstream.StreamConfig{}, fmt.Errorf("events: config %+v: negative values are not allowed", cfg)
	}
	sc := jetstream.StreamConfig{
		Name:        StreamName,
		Description: "wake: every object change, as CloudEvents",
		Subjects:    []string{AllSubjects},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    max(cfg.Replicas, 1),
		MaxAge:      cfg.MaxAge,
		MaxBytes:    -1,
		MaxMsgs:     -1,
		MaxMsgSize:  cfg.MaxMsgSize,
		Duplicates:  cfg.Duplicates,
		Discard:     jetstream.DiscardOld,
		// Last and Get answer from any replica, without the leader.
		AllowDirect: true,
		// The log is the audit trail: no event is ever removed through
		// the JetStream API, one at a time or by a purge. NATS refuses to
		// lift either once set; retention limits still discard the head,
		// and events/audit tells that apart from any other removal.
		DenyDelete: true,
		DenyPurge:  true,
	}
	if cfg.Memory {
		sc.Storage = jetstream.MemoryStorage
	}
	if cfg.MaxBytes > 0 {
		sc.MaxBytes = cfg.MaxBytes
	}
	if sc.MaxMsgSize == 0 {
		sc.MaxMsgSize = defaultMaxMsgSize
	}
	if sc.Duplicates == 0 {
		sc.Duplicates = defaultDuplicates
	}
	if sc.MaxAge > 0 && sc.Duplicates > sc.MaxAge {
		sc.Duplicates = sc.MaxAge
	}
	return sc, nil
}

// Log is the event log: the stream WAKE on a NATS connection. It is safe
// for concurrent use.
type Log struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	signer *signer // nil: events are appended unsigned
	// quarantined is shared by the Logs WithSigner derives from one Open.
	quarantined *atomic.Pointer[func(seq uint64) bool] // see SetQuarantined
}

// Open creates the stream, or adopts an existing one: it updates the
// settings Config controls (limits, duplicate window, replicas when set,
// direct get, the wake.obj.> subject), sets deny delete and deny purge,
// and never deletes or recreates it.
// It refuses a stream whose storage type differs from the one asked for,
// that is sealed, or whose retention is not limits-based (any of these
// could lose events).
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Log, error) {
	want, err := cfg.streamConfig()
	if err != nil {
		return nil, err
	}
	var sign *signer
	if cfg.Signer != nil {
		if sign, err = newSigner(cfg.Signer); err != nil {
			return nil, err
		}
	}
	want.Metadata = versionMetadata()
	// Without a timeout, an asynchronous publish (AppendBatch) whose server
	// dies before acknowledging waits for ever: a controller hung that way
	// when the stream leader was killed (internal/devcluster, drill 1).
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("events: open: %w", err)
	}
	s, err := js.Stream(ctx, StreamName)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s, err = js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another process created it between our two calls.
			s, err = js.Stream(ctx, StreamName)
			if err == nil {
				s, err = checkAndAdopt(ctx, js, s, want, cfg)
			}
		}
	case err == nil:
		s, err = checkAndAdopt(ctx, js, s, want, cfg)
	}
	if errors.Is(err, ErrLogTooNew) {
		return nil, err
	}
	if err != nil {
		return nil, wrapNATS("open stream "+StreamName, err)
	}
	return &Log{nc: nc, js: js, stream: s, signer: sign, quarantined: new(atomic.Pointer[func(seq uint64) bool])}, nil
}

// adopt brings an existing stream's adjustable settings to want.
func adopt(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, want jetstream.StreamConfig, cfg Config) (jetstream.Stream, error) {
	have := s.CachedInfo().Config
	switch {
	case have.Storage != want.Storage:
		return nil, fmt.Errorf("existing stream has %s storage, %s asked for; migrate it deliberately", have.Storage, want.Storage)
	case have.Retention != jetstream.LimitsPolicy:
		return nil, fmt.Errorf("existing stream has %s retention, wake needs limits retention", have.Retention)
	case have.Sealed:
		return nil, fmt.Errorf("existing stream is sealed")
	}
	next := have
	if !slices.Contains(next.Subjects, AllSubjects) {
		next.Subjects = append(slices.Clip(next.Subjects), AllSubjects)
	}
	if cfg.Replicas > 0 {
		next.Replicas = want.Replicas
	}
	if !cfg.KeepMaxAge {
		next.MaxAge = want.MaxAge
	}
	if !cfg.KeepMaxBytes {
		next.MaxBytes = want.MaxBytes
	}
	next.MaxMsgSize = want.MaxMsgSize
	next.Duplicates = want.Duplicates
	if next.MaxAge > 0 && next.Duplicates > next.MaxAge {
		next.Duplicates = next.MaxAge
	}
	next.AllowDirect = true
	// Set on a stream an older wake (or someone else) created without
	// them; a one-way change (NATS never lifts them again).
	// Roll-ups purge too (and NATS refuses them beside deny purge).
	next.DenyDelete, next.DenyPurge, next.AllowRollup = true, true, false
	if sameAdjustable(have, next) {
		return s, nil
	}
	return js.UpdateStream(ctx, next)
}

func sameAdjustable(a, b jetstream.StreamConfig) bool {
	return slices.Equal(a.Subjects, b.Subjects) && a.Replicas == b.Replicas && a.MaxAge == b.MaxAge &&
		a.MaxBytes == b.MaxBytes && a.MaxMsgSize == b.MaxMsgSize && a.Duplicates == b.Duplicates &&
		a.AllowDirect == b.AllowDirect && a.DenyDelete == b.DenyDelete && a.DenyPurge == b.DenyPurge && a.AllowRollup == b.AllowRollup
}

// Stream is the underlying JetStream stream, for packages that build on
// it (snapshots). Do not publish to it directly: use Append.
func (l *Log) Stream() jetstream.Stream { return l.stream }

// JetStream is the JetStream context of the log's connection, for
// packages that need other JetStream objects (key-value buckets).
func (l *Log) JetStream() jetstream.JetStream { return l.js }
