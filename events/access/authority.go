package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// AccountName is the name of the account holding wake's stream and
// buckets.
const AccountName = "WAKE"

// Authority holds the keys of wake's NATS trust chain: the operator, the
// account WAKE (which signs every user) and the system account the
// server needs in this mode. It issues users; it never connects.
type Authority struct {
	dir                       string
	operator, account, system nkeys.KeyPair
	operatorClaims            *jwt.OperatorClaims
	accountJWT, systemJWT     string
	accountPub, systemPub     string
}

// Files of an Authority's directory: one nkey seed each, mode 0600.
const (
	operatorFile = "operator.nk"
	accountFile  = "account.nk"
	systemFile   = "system.nk"
)

// LoadOrCreate reads the Authority's keys from dir, making them (and dir,
// mode 0700) on first use.
func LoadOrCreate(dir string) (*Authority, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	op, err := loadOrCreateKey(filepath.Join(dir, operatorFile), nkeys.CreateOperator)
	if err != nil {
		return nil, err
	}
	acc, err := loadOrCreateKey(filepath.Join(dir, accountFile), nkeys.CreateAccount)
	if err != nil {
		return nil, err
	}
	sys, err := loadOrCreateKey(filepath.Join(dir, systemFile), nkeys.CreateAccount)
	if err != nil {
		return nil, err
	}
	a, err := newAuthority(op, acc, sys)
	if err != nil {
		return nil, err
	}
	a.dir = dir
	return a, nil
}

// loadOrCreateKey reads a seed, or makes one with create and writes it.
func loadOrCreateKey(path string, create func() (nkeys.KeyPair, error)) (nkeys.KeyPair, error) {
	seed, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		kp, err := create()
		if err != nil {
			return nil, fmt.Errorf("access: new key: %w", err)
		}
		seed, err = kp.Seed()
		if err != nil {
			return nil, err
		}
		if err := WriteSecret(path, seed); err != nil {
			return nil, err
		}
		return kp, nil
	}
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("access: %s: %w", path, err)
	}
	return kp, nil
}

// WriteSecret writes data readable by its owner only (mode 0600),
// atomically: keys, credentials, a join token's parts.
func WriteSecret(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("access: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("access: %w", err)
	}
	return nil
}

func newAuthority(op, acc, sys nkeys.KeyPair) (*Authority, error) {
	a := &Authority{operator: op, account: acc, system: sys}
	opPub, err := op.PublicKey()
	if err != nil {
		return nil, err
	}
	if a.accountPub, err = acc.PublicKey(); err != nil {
		return nil, err
	}
	if a.systemPub, err = sys.PublicKey(); err != nil {
		return nil, err
	}
	for _, k := range []struct {
		kp     nkeys.KeyPair
		prefix nkeys.PrefixByte
		name   string
	}{{op, nkeys.PrefixByteOperator, operatorFile}, {acc, nkeys.PrefixByteAccount, accountFile}, {sys, nkeys.PrefixByteAccount, systemFile}} {
		pub, _ := k.kp.PublicKey()
		if !nkeys.IsValidPublicKey(pub) || nkeys.Prefix(pub) != k.prefix {
			return nil, fmt.Errorf("access: %s holds the wrong kind of key", k.name)
		}
	}
	oc := jwt.NewOperatorClaims(opPub)
	oc.Name = "wake"
	oc.SystemAccount = a.systemPub
	opJWT, err := oc.Encode(op)
	if err != nil {
		return nil, fmt.Errorf("access: operator: %w", err)
	}
	if a.operatorClaims, err = jwt.DecodeOperatorClaims(opJWT); err != nil {
		return nil, err
	}
	ac := jwt.NewAccountClaims(a.accountPub)
	ac.Name = AccountName
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit,
		Streams: jwt.NoLimit, Consumer: jwt.NoLimit, MaxAckPending: jwt.NoLimit,
		MemoryMaxStreamBytes: jwt.NoLimit, DiskMaxStreamBytes: jwt.NoLimit}
	if a.accountJWT, err = ac.Encode(op); err != nil {
		return nil, fmt.Errorf("access: account: %w", err)
	}
	sc := jwt.NewAccountClaims(a.systemPub)
	sc.Name = "SYS"
	if a.systemJWT, err = sc.Encode(op); err != nil {
		return nil, fmt.Errorf("access: system account: %w", err)
	}
	return a, nil
}

// Account is the account's public key: the name JetStream files its
// streams under.
func (a *Authority) Account() string { return a.accountPub }

// Configure makes o trust only users this Authority issued: o must not
// list users or accounts of its own.
func (a *Authority) Configure(o *server.Options) error {
	res := &server.MemAccResolver{}
	if err := res.Store(a.accountPub, a.accountJWT); err != nil {
		return err
	}
	if err := res.Store(a.systemPub, a.systemJWT); err != nil {
		return err
	}
	o.TrustedOperators = []*jwt.OperatorClaims{a.operatorClaims}
	o.AccountResolver = res
	o.SystemAccount = a.systemPub
	return nil
}

// User is an identity: a user JWT and the seed of its key.
type User struct {
	JWT  string
	Seed []byte
}

// Issue makes a new identity for role (an agent's for node), named name
// in the server's logs and monitoring.
func (a *Authority) Issue(role Role, node, name string) (User, error) {
	perms, err := Permissions(role, node)
	if err != nil {
		return User{}, err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return User{}, err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return User{}, err
	}
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	uc.Permissions = perms
	uc.Tags.Add("role:" + string(role))
	if node != "" {
		uc.Tags.Add("node:" + node)
	}
	token, err := uc.Encode(a.account)
	if err != nil {
		return User{}, fmt.Errorf("access: user %s: %w", name, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return User{}, err
	}
	if role != Up {
		if err := a.record(Identity{Role: role, Node: node, Name: name, Public: pub}); err != nil {
			return User{}, err
		}
	}
	return User{JWT: token, Seed: seed}, nil
}

// Identity is a user the Authority issued, as it recorded it: whose key
// it is and for what. Its public key is how the audit knows an event's
// signer (events' ce-wakesigner).
type Identity struct {
	Role   Role   `json:"role"`
	Node   string `json:"node,omitempty"`
	Name   string `json:"name"`
	Public string `json:"public"`
}

// issuedFile records every identity issued but wake up's own in-process
// one (a new key each start, which signs nothing), one JSON line each.
const issuedFile = "issued.jsonl"

func (a *Authority) record(id Identity) error {
	if a.dir == "" {
		return nil
	}
	line, err := json.Marshal(id)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(a.dir, issuedFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("access: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("access: %w", err)
	}
	return f.Close()
}

// Issued are the identities this Authority issued, oldest first. A line
// that does not read as one (a torn write) is skipped.
func (a *Authority) Issued() ([]Identity, error) {
	b, err := os.ReadFile(filepath.Join(a.dir, issuedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	var out []Identity
	for _, line := range bytes.Split(b, []byte("\n")) {
		var id Identity
		if json.Unmarshal(line, &id) != nil || !nkeys.IsValidPublicUserKey(id.Public) {
			continue
		}
		if _, err := Permissions(id.Role, id.Node); err != nil {
			continue
		}
		out = append(out, id)
	}
	return out, nil
}

// LogSubjects are the subjects of the log (and of the audit's records)
// id may write: what its role's permissions allow there. The audit
// trusts its signatures on those only.
func (id Identity) LogSubjects() []string {
	p, err := Permissions(id.Role, id.Node)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range p.Pub.Allow {
		if s == ">" || strings.HasPrefix(s, "wake.obj.") || strings.HasPrefix(s, "wake.audit.") {
			out = append(out, s)
		}
	}
	return out
}

// Creds is u in the NATS credentials file format (nats.UserCredentials,
// the nats CLI and every NATS client read it).
func (u User) Creds() ([]byte, error) { return jwt.FormatUserConfig(u.JWT, u.Seed) }

// Option authenticates a connection as u, without a file.
func (u User) Option() nats.Option { return nats.UserJWTAndSeed(u.JWT, string(u.Seed)) }

// WriteCreds writes u's credentials file at path (mode 0600).
func (u User) WriteCreds(path string) error {
	creds, err := u.Creds()
	if err != nil {
		return err
	}
	return WriteSecret(path, creds)
}
