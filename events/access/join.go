package access

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/wakehq/wake/events"
)

// Join is what a node needs to join a cluster once: where the NATS
// servers are, the CA that signed their certificates, and the node's own
// credentials. Its token is a secret: whoever holds it is that node.
type Join struct {
	// Node is the node the credentials are for.
	Node string `json:"node"`
	// Servers are NATS URLs, comma-separated.
	Servers string `json:"servers"`
	// CA is the PEM certificate the servers' certificates chain to; empty
	// when they serve plain connections (loopback only).
	CA string `json:"ca,omitempty"`
	// Creds is the node's credentials file.
	Creds string `json:"creds"`
}

// joinPrefix starts every join token and versions its format.
const joinPrefix = "wakejoin1."

// maxJoinToken bounds what ParseJoinToken reads.
const maxJoinToken = 64 << 10

// Token packs j into one line to copy to the node.
func (j Join) Token() (string, error) {
	if err := j.validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(j)
	if err != nil {
		return "", err
	}
	return joinPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// ParseJoinToken unpacks and checks a token made by Join.Token.
func ParseJoinToken(token string) (Join, error) {
	token = strings.TrimSpace(token)
	if len(token) > maxJoinToken {
		return Join{}, fmt.Errorf("access: join token is %d bytes, more than %d", len(token), maxJoinToken)
	}
	body, ok := strings.CutPrefix(token, joinPrefix)
	if !ok {
		return Join{}, fmt.Errorf("access: not a wake join token (it starts with %q)", joinPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return Join{}, fmt.Errorf("access: join token: %w", err)
	}
	var j Join
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Join{}, fmt.Errorf("access: join token: %w", err)
	}
	if err := j.validate(); err != nil {
		return Join{}, err
	}
	return j, nil
}

// validate checks every field: a node name the subjects can carry, NATS
// URLs, a parseable CA, and credentials of an agent for that node.
func (j Join) validate() error {
	if j.Node == "" || len(j.Node) > 253 {
		return fmt.Errorf("access: join token: node name %q: want 1 to 253 characters", j.Node)
	}
	if err := (events.Ref{Resource: "nodes", Name: j.Node}).Validate(); err != nil {
		return fmt.Errorf("access: join token: %w", err)
	}
	if j.Servers == "" {
		return fmt.Errorf("access: join token: no NATS servers")
	}
	for _, s := range strings.Split(j.Servers, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") || u.User != nil {
			return fmt.Errorf("access: join token: NATS server %q: want nats://host:port or tls://host:port", s)
		}
	}
	if j.CA != "" {
		blk, _ := pem.Decode([]byte(j.CA))
		if blk == nil || blk.Type != "CERTIFICATE" {
			return fmt.Errorf("access: join token: CA is not a PEM certificate")
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return fmt.Errorf("access: join token: CA: %w", err)
		}
	}
	if err := CheckCreds([]byte(j.Creds), Agent, j.Node); err != nil {
		return fmt.Errorf("access: join token: %w", err)
	}
	return nil
}

// CheckCreds reports whether creds (a credentials file) are an identity
// of role for node ("" for roles without one) whose key matches its JWT.
func CheckCreds(creds []byte, role Role, node string) error {
	token, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	uc, err := jwt.DecodeUserClaims(token)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if !uc.Tags.Contains("role:"+string(role)) || (node != "" && !uc.Tags.Contains("node:"+node)) {
		return fmt.Errorf("these are not %s credentials for node %q", role, node)
	}
	kp, err := jwt.ParseDecoratedUserNKey(creds)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if pub, err := kp.PublicKey(); err != nil || pub != uc.Subject || nkeys.Prefix(pub) != nkeys.PrefixByteUser {
		return fmt.Errorf("the credentials' key does not match their JWT")
	}
	return nil
}
