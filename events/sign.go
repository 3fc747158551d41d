package events

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Signed events. A Log with a signer (Config.Signer, Log.WithSigner) signs
// every event it appends, in one place (Log.encode, used by Append and
// AppendBatch), so that the audit can tell an event a wake writer made
// from one published straight to the stream by anyone else who could
// reach it. The signature covers every field known before the append
// (SigningDigest); the stream sequence is the server's to give.
const (
	// HeaderSigner is the signer's public nkey (ed25519, NATS's
	// encoding: "U…" for a user key).
	HeaderSigner = "ce-" + extSigner
	// HeaderSignature is the ed25519 signature of SigningDigest,
	// base64url without padding.
	HeaderSignature = "ce-" + extSignature
)

const (
	extSigner    = "wakesigner"
	extSignature = "wakesignature"
)

// signingDomain starts every signed digest, so that a signature over an
// event can never be taken for one over anything else a key signs (NATS
// nonces, JWTs).
const signingDomain = "wake.event.signature.v1"

// Errors of VerifySignature.
var (
	ErrUnsigned     = errors.New("events: event is not signed")
	ErrBadSignature = errors.New("events: signature does not match the event")
)

// SigningDigest is what a writer signs: SHA-256 over a domain tag and the
// event's subject, id, type, source, time (RFC 3339 with fraction, UTC,
// as ce-time carries it), actor, request id, change, apiVersion, kind,
// detail and data, each prefixed by its length (8 bytes, big-endian).
func SigningDigest(ev Event) [32]byte {
	h := sha256.New()
	var n [8]byte
	field := func(f string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	field(signingDomain)
	for _, f := range [...]string{ev.Ref.Subject(), ev.ID, string(ev.Type), ev.Source, ev.Time.UTC().Format(time.RFC3339Nano),
		ev.Actor, ev.RequestID, string(ev.Change), ev.APIVersion, ev.Kind, ev.Detail} {
		field(f)
	}
	binary.BigEndian.PutUint64(n[:], uint64(len(ev.Data)))
	h.Write(n[:])
	h.Write(ev.Data)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// signer is a Log's signing key, decoded once: nkeys decodes the seed
// (and derives the key) on every Sign, which would double the cost.
type signer struct {
	public string
	key    ed25519.PrivateKey
}

func newSigner(kp nkeys.KeyPair) (*signer, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("events: signer: %w", err)
	}
	enc, err := kp.PrivateKey()
	if err != nil {
		return nil, fmt.Errorf("events: signer %s has no private key: %w", pub, err)
	}
	raw, err := nkeys.Decode(nkeys.PrefixBytePrivate, enc)
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("events: signer %s: not an ed25519 key: %v", pub, err)
	}
	return &signer{public: pub, key: ed25519.PrivateKey(raw)}, nil
}

// sign puts the signer and the signature of ev on msg.
func (s *signer) sign(msg *nats.Msg, ev Event) {
	d := SigningDigest(ev)
	msg.Header[HeaderSigner] = []string{s.public}
	msg.Header[HeaderSignature] = []string{base64.RawURLEncoding.EncodeToString(ed25519.Sign(s.key, d[:]))}
}

// encode is ev as the message a Log publishes: Event.Encode, signed when
// the Log has a signer. Append and AppendBatch both go through it.
func (l *Log) encode(ev Event) (*nats.Msg, error) {
	msg, err := ev.Encode()
	if err != nil || l.signer == nil {
		return msg, err
	}
	l.signer.sign(msg, ev)
	return msg, nil
}

// WithSigner is l signing every event it appends with kp (nil: unsigned),
// sharing l's connection and stream: one Log per role in a process that
// runs several (wake up).
func (l *Log) WithSigner(kp nkeys.KeyPair) (*Log, error) {
	c := *l
	c.signer = nil
	if kp != nil {
		s, err := newSigner(kp)
		if err != nil {
			return nil, err
		}
		c.signer = s
	}
	return &c, nil
}

// Signer is the public key the Log signs with, "" when it does not sign.
func (l *Log) Signer() string {
	if l.signer == nil {
		return ""
	}
	return l.signer.public
}

// LoadSigner reads a signing key from a file holding an nkey seed ("SU…")
// or a NATS credentials file (its seed), so a role can sign with the key
// of its own NATS identity.
func LoadSigner(path string) (nkeys.KeyPair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("events: signer: %w", err)
	}
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return nil, fmt.Errorf("events: signer %s: %w", path, err)
	}
	return kp, nil
}

// ParseSigner is the ed25519 public key of a signer's public nkey.
func ParseSigner(public string) (ed25519.PublicKey, error) {
	raw, err := nkeys.Decode(nkeys.Prefix(public), []byte(public))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("events: signer %q is not a public nkey: %v", public, err)
	}
	return ed25519.PublicKey(raw), nil
}

// VerifySignature checks that ev (as read from the log) carries a
// signature of its SigningDigest by ev.Signer, whose key is pub (see
// ParseSigner). Whether that signer is trusted is the caller's question.
func VerifySignature(ev Event, pub ed25519.PublicKey) error {
	if ev.Signer == "" && ev.Signature == "" {
		return ErrUnsigned
	}
	sig, err := base64.RawURLEncoding.DecodeString(ev.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: %s is not an ed25519 signature", ErrBadSignature, HeaderSignature)
	}
	d := SigningDigest(ev)
	if !ed25519.Verify(pub, d[:], sig) {
		return ErrBadSignature
	}
	return nil
}
