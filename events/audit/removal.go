package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/wakehq/wake/events"
)

// RemovalFormat is the format of a removal record.
const RemovalFormat = "wake.audit.removal.v1"

// Removal is an operator's record that the event at Seq is removed from
// the log: a poison or forged event. The stream WAKE denies deleting
// events, and NATS cannot lift that once set, so the event itself stays
// stored; the record is what makes its removal deliberate and visible:
// Verify does not check the event's digest or signature, and explains
// its absence (should an administrator with the server's files delete
// it) instead of failing. Readers may skip it (Removals).
type Removal struct {
	Format  string `json:"format"`
	Seq     uint64 `json:"seq"`
	Subject string `json:"subject"` // the event's NATS subject ("" if it was already gone)
	// Digest is the event's d(n) as a seal records it ("" if it does
	// not decode or was already gone); RawDigest is SHA-256 over the
	// stored subject, headers and data.
	Digest    string `json:"digest"`
	RawDigest string `json:"rawDigest"`
	Reason    string `json:"reason"`
	Actor     string `json:"actor"` // who says so: the operator
	Time      string `json:"time"`
	// Signer and Signature: the operator's public nkey and its ed25519
	// signature (base64url) of the record's fields; Verify requires a
	// trusted signer allowed RemovalSubject when it has a Trust.
	Signer    string `json:"signer,omitempty"`
	Signature string `json:"signature,omitempty"`
	auditSeq  uint64 // its own sequence in WAKE_AUDIT
}

// signed is what the signature covers.
func (r *Removal) signed() []byte {
	h := sha256.New()
	var n [8]byte
	for _, f := range []string{RemovalFormat, strconv.FormatUint(r.Seq, 10), r.Subject, r.Digest, r.RawDigest, r.Reason, r.Actor, r.Time} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// RemoveOptions are who removes and why.
type RemoveOptions struct {
	Reason string // required
	Actor  string // required: the operator
	// Signer signs the record (an operator's nkey; see events.LoadSigner).
	Signer nkeys.KeyPair
	Now    func() time.Time
}

// Remove records that the event at seq is removed from the log (see
// Removal) and returns the record. Only an administrator's NATS identity
// may publish to RemovalSubject; with a Trust, Verify also requires the
// record to be signed by a key trusted for it.
func Remove(ctx context.Context, log *events.Log, seals *Seals, seq uint64, opts RemoveOptions) (*Removal, error) {
	if strings.TrimSpace(opts.Reason) == "" || strings.TrimSpace(opts.Actor) == "" {
		return nil, errors.New("audit: a removal needs a reason and an actor")
	}
	last, err := log.LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	if seq == 0 || seq > last {
		return nil, fmt.Errorf("audit: no event %d: the log ends at %d", seq, last)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	r := &Removal{Format: RemovalFormat, Seq: seq, Reason: opts.Reason, Actor: opts.Actor, Time: now().UTC().Format(time.RFC3339Nano)}
	m, err := log.Stream().GetMsg(ctx, seq)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound): // already gone: record why
	case err != nil:
		return nil, fmt.Errorf("audit: read event %d: %w", seq, err)
	default:
		r.Subject, r.RawDigest = m.Subject, rawDigest(m.Subject, m.Header, m.Data)
		ev, err := events.Decode(m.Subject, m.Header, m.Data, seq)
		var de *events.DecodeError
		switch {
		case err == nil:
			r.Digest = Digest(ev)
		case errors.As(err, &de):
			r.Digest = RawDigest(de) // as the sealer sealed it
		}
	}
	if opts.Signer != nil {
		if r.Signer, err = opts.Signer.PublicKey(); err != nil {
			return nil, err
		}
		sig, err := opts.Signer.Sign(r.signed())
		if err != nil {
			return nil, fmt.Errorf("audit: sign the removal: %w", err)
		}
		r.Signature = base64.RawURLEncoding.EncodeToString(sig)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	ack, err := seals.js.PublishMsg(ctx, &nats.Msg{Subject: RemovalSubject, Data: data})
	if err != nil {
		return nil, fmt.Errorf("audit: record the removal of %d: %w", seq, err)
	}
	r.auditSeq = ack.Sequence
	return r, nil
}

// rawDigest is SHA-256 over a stored message: subject, headers (sorted)
// and data, each length-prefixed.
func rawDigest(subject string, hdr nats.Header, data []byte) string {
	h := sha256.New()
	writeMessage(h, subject, hdr, data)
	return hex.EncodeToString(h.Sum(nil))
}

// Removals are the removal records, by the sequence they remove (the
// first record of a sequence counts). Readers that must not fold a
// removed event can skip these sequences. A record that does not decode
// is an error.
func (s *Seals) Removals(ctx context.Context) (map[uint64]*Removal, error) {
	var bad error
	all, err := s.removals(ctx, func(seq uint64, err error) {
		if bad == nil {
			bad = fmt.Errorf("audit: removal record %d does not decode as %s: %v", seq, RemovalFormat, err)
		}
	})
	if err == nil {
		err = bad
	}
	out := map[uint64]*Removal{}
	for _, r := range all {
		if out[r.Seq] == nil {
			out[r.Seq] = r
		}
	}
	return out, err
}

// removals reads every removal record in order, one direct get each,
// handing those that do not decode to bad.
func (s *Seals) removals(ctx context.Context, bad func(uint64, error)) ([]*Removal, error) {
	var out []*Removal
	for seq := uint64(1); ; {
		m, err := s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(RemovalSubject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("audit: removal records: %w", err)
		}
		seq = m.Sequence + 1
		var r Removal
		if err := json.Unmarshal(m.Data, &r); err != nil || r.Format != RemovalFormat {
			if err == nil {
				err = fmt.Errorf("format %q", r.Format)
			}
			bad(m.Sequence, err)
			continue
		}
		r.auditSeq = m.Sequence
		out = append(out, &r)
	}
}

// checkRemoval says why a removal record is not to be trusted ("" if it is).
func checkRemoval(r *Removal, trust Trust, keys map[string]ed25519.PublicKey) string {
	if len(trust) == 0 {
		return ""
	}
	signer, ok := trust[r.Signer]
	if !ok || !signer.allows(RemovalSubject) {
		return fmt.Sprintf("removal record %d (by %s: %q) is not signed by a signer trusted to remove events", r.auditSeq, r.Actor, r.Reason)
	}
	sig, err := base64.RawURLEncoding.DecodeString(r.Signature)
	if err != nil || !ed25519.Verify(keys[r.Signer], r.signed(), sig) {
		return fmt.Sprintf("removal record %d (by %s): its signature does not match it", r.auditSeq, r.Actor)
	}
	return ""
}
