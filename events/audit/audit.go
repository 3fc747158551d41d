package audit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
)

// Stream and subjects of the audit: the seals' chain, and the removals
// an operator recorded (removal.go).
const (
	StreamName     = "WAKE_AUDIT"
	SealSubject    = "wake.audit.seal"
	RemovalSubject = "wake.audit.removal"
	// SealFormat is the format the sealer writes: v2 anchors the stream
	// (Seal.Stream). Verify still reads SealFormatV1.
	SealFormat   = "wake.audit.seal.v2"
	SealFormatV1 = "wake.audit.seal.v1"
)

// Seal covers the events first..last of the log.
type Seal struct {
	Format  string   `json:"format"`
	First   uint64   `json:"first"`
	Last    uint64   `json:"last"`
	Prev    string   `json:"prev"`
	Digests []string `json:"digests"`
	Chain   string   `json:"chain"`
	Seqs    []uint64 `json:"seqs"` // the sealed sequences (a gap in the log is sealed as a gap)
	Time    string   `json:"time"`
	// Stream is the log as the sealer found it just before sealing (v2;
	// nil in a v1 seal). The chain covers it.
	Stream *Anchor `json:"stream,omitempty"`
	seq    uint64  // the seal's own sequence in WAKE_AUDIT
	time   time.Time
}

// Digest is d(n): the first 16 bytes of SHA-256 over every field of ev.
func Digest(ev events.Event) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], ev.Seq)
	h.Write(n[:])
	for _, f := range []string{ev.Ref.Subject(), ev.ID, string(ev.Type), ev.Source, ev.Time.UTC().Format(time.RFC3339Nano),
		ev.Actor, ev.RequestID, string(ev.Change), ev.APIVersion, ev.Kind, ev.Detail, string(ev.Data)} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// RawDigest is the digest of a message that is not an event (it does not
// decode; the projection quarantines it): the first 16 bytes of SHA-256
// over its sequence, the marker "raw", its subject, its headers (names
// sorted, each value in order) and its data, each length-prefixed.
func RawDigest(de *events.DecodeError) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], de.Seq)
	h.Write(n[:])
	writeField(h, []byte("raw"))
	writeMessage(h, de.Subject, de.Header, de.Data)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// writeField writes b length-prefixed.
func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// writeMessage writes a stored message as it is: subject, headers (names
// sorted, each value in order) and data, each length-prefixed.
func writeMessage(h hash.Hash, subject string, hdr nats.Header, data []byte) {
	writeField(h, []byte(subject))
	names := make([]string, 0, len(hdr))
	for k := range hdr {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range hdr[k] {
			writeField(h, []byte(k))
			writeField(h, []byte(v))
		}
	}
	writeField(h, data)
}

// chain is H(L) from H(F-1), the digests and, in a v2 seal, the anchor.
func chain(prev string, digests []string, anchor *Anchor) string {
	h := sha256.New()
	h.Write([]byte(prev))
	for _, d := range digests {
		h.Write([]byte(d))
	}
	if anchor != nil {
		h.Write([]byte(anchor.canonical()))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Seals is the seal stream.
type Seals struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// OpenSeals creates or adopts WAKE_AUDIT.
func OpenSeals(ctx context.Context, js jetstream.JetStream, memory bool) (*Seals, error) {
	cfg := jetstream.StreamConfig{
		Name: StreamName, Description: "wake: hash chain over the stream WAKE",
		Subjects: []string{SealSubject, RemovalSubject}, Storage: jetstream.FileStorage, DenyDelete: true, DenyPurge: true,
		MaxMsgSize: 8 << 20,
	}
	if memory {
		cfg.Storage = jetstream.MemoryStorage
	}
	s, err := js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, cfg)
	} else if err == nil {
		s, err = adoptSeals(ctx, js, s)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: seal stream: %w", err)
	}
	return &Seals{js: js, stream: s}, nil
}

// adoptSeals brings a seal stream an older wake made up to date: the
// removal subject, deny delete and deny purge (one-way in NATS).
func adoptSeals(ctx context.Context, js jetstream.JetStream, s jetstream.Stream) (jetstream.Stream, error) {
	cfg := s.CachedInfo().Config
	if slices.Contains(cfg.Subjects, RemovalSubject) && cfg.DenyDelete && cfg.DenyPurge && !cfg.AllowRollup {
		return s, nil
	}
	if !slices.Contains(cfg.Subjects, RemovalSubject) {
		cfg.Subjects = append(slices.Clip(cfg.Subjects), RemovalSubject)
	}
	cfg.DenyDelete, cfg.DenyPurge, cfg.AllowRollup = true, true, false
	return js.UpdateStream(ctx, cfg)
}

// Last is the newest seal, nil if there is none.
func (s *Seals) Last(ctx context.Context) (*Seal, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, SealSubject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: last seal: %w", err)
	}
	return decodeSeal(m.Data, m.Sequence)
}

func decodeSeal(data []byte, seq uint64) (*Seal, error) {
	var sl Seal
	err := json.Unmarshal(data, &sl)
	if err == nil {
		sl.time, err = time.Parse(time.RFC3339Nano, sl.Time)
	}
	switch {
	case err != nil, len(sl.Digests) != len(sl.Seqs),
		sl.Format == SealFormat && sl.Stream == nil,
		sl.Format != SealFormat && sl.Format != SealFormatV1:
		return nil, fmt.Errorf("audit: seal %d does not decode as %s or %s: %v", seq, SealFormat, SealFormatV1, err)
	}
	if sl.Format == SealFormatV1 {
		sl.Stream = nil // v1's chain has no anchor
	}
	sl.seq = seq
	return &sl, nil
}

// All calls fn for every seal in order.
func (s *Seals) All(ctx context.Context, fn func(*Seal) error) error {
	return s.walk(ctx, func(m *jetstream.RawStreamMsg) error {
		if m.Subject != SealSubject {
			return nil
		}
		sl, err := decodeSeal(m.Data, m.Sequence)
		if err != nil {
			return err
		}
		return fn(sl)
	})
}

// walk calls fn for every message of the audit stream, in order.
func (s *Seals) walk(ctx context.Context, fn func(*jetstream.RawStreamMsg) error) error {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return err
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("audit: message %d of %s (a seal or a removal) was removed", seq, StreamName)
		}
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Seals) append(ctx context.Context, sl *Seal, expect uint64) (uint64, error) {
	data, err := json.Marshal(sl)
	if err != nil {
		return 0, err
	}
	msg := &nats.Msg{Subject: SealSubject, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(expect, 10))
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("seal-%d-%d", sl.First, sl.Last))
	ack, err := s.js.PublishMsg(ctx, msg)
	if err != nil {
		return 0, fmt.Errorf("audit: append seal %d-%d: %w", sl.First, sl.Last, err)
	}
	return ack.Sequence, nil
}

// Options tune a Sealer.
type Options struct {
	Every  int           // events per seal; default 1000
	Idle   time.Duration // seal what is pending after this long; default 2s
	Logger *slog.Logger
}

// Sealer follows the log and appends seals.
type Sealer struct {
	log   *events.Log
	seals *Seals
	opts  Options

	mu      sync.Mutex
	last    *Seal // nil before the first seal
	pending []sealed
}

// sealed is one message of the log waiting for its seal.
type sealed struct {
	seq    uint64
	digest string
}

// NewSealer returns a sealer of log into seals.
func NewSealer(log *events.Log, seals *Seals, opts Options) *Sealer {
	if opts.Every <= 0 {
		opts.Every = 1000
	}
	if opts.Idle <= 0 {
		opts.Idle = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Sealer{log: log, seals: seals, opts: opts}
}

// Run seals until ctx ends.
func (s *Sealer) Run(ctx context.Context) error {
	last, err := s.seals.Last(ctx)
	if err != nil {
		return err
	}
	s.last = last
	from := uint64(1)
	if last != nil {
		from = last.Last + 1
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(s.opts.Idle)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.mu.Lock()
				if err := s.seal(ctx); err != nil && ctx.Err() == nil {
					s.opts.Logger.Warn("audit seal failed", "err", err)
				}
				s.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	add := func(seq uint64, digest string) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.pending = append(s.pending, sealed{seq, digest})
		if len(s.pending) >= s.opts.Every {
			return s.seal(ctx)
		}
		return nil
	}
	// A message that is not an event is sealed too, by its raw digest:
	// the projection quarantines it, and the seal fixes what it was.
	err = s.log.SubscribeSkipping(ctx, from, "", func(ev events.Event) error {
		return add(ev.Seq, Digest(ev))
	}, func(de *events.DecodeError) error {
		return add(de.Seq, RawDigest(de))
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// seal appends a seal over the pending events. Call with s.mu held.
func (s *Sealer) seal(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	// The time first, then the stream: every event after Stream.Last was
	// stored after Time, which bounds what a max age can have discarded.
	sl := &Seal{Format: SealFormat, First: s.pending[0].seq, Last: s.pending[len(s.pending)-1].seq,
		Time: time.Now().UTC().Format(time.RFC3339Nano)}
	anchor, err := anchorOf(ctx, s.log)
	if err != nil {
		return err
	}
	sl.Stream = anchor
	var expect uint64
	if s.last != nil {
		sl.Prev, expect = s.last.Chain, s.last.seq
		sl.First = s.last.Last + 1
	}
	for _, p := range s.pending {
		sl.Digests = append(sl.Digests, p.digest)
		sl.Seqs = append(sl.Seqs, p.seq)
	}
	sl.Chain = chain(sl.Prev, sl.Digests, sl.Stream)
	seq, err := s.seals.append(ctx, sl, expect)
	if err != nil {
		return err
	}
	sl.seq = seq
	s.last, s.pending = sl, s.pending[:0]
	return nil
}

// ErrNoSeals means the seal stream does not exist: no sealer has run.
var ErrNoSeals = errors.New("audit: no seal stream (no sealer has run)")

// LookupSeals binds the existing seal stream without creating it.
func LookupSeals(ctx context.Context, js jetstream.JetStream) (*Seals, error) {
	s, err := js.Stream(ctx, StreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, ErrNoSeals
	}
	if err != nil {
		return nil, fmt.Errorf("audit: seal stream: %w", err)
	}
	return &Seals{js: js, stream: s}, nil
}
