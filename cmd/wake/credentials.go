package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/access"
	"github.com/wakehq/wake/events/audit"
)

// The data directory's NATS identities: the authority's keys, one
// credentials file per role for processes started beside `wake up`, and
// the address its embedded server serves them on.
const (
	keysDir  = "nats-keys"
	credsDir = "creds"
	urlFile  = "nats-url"
)

// localRoles get a credentials file in the data directory; agents get
// theirs, one per node, from `wake join`.
var localRoles = []access.Role{access.Admin, access.Gateway, access.Scheduler, access.Controllers}

// defaultDataDir is where `wake up` keeps its files unless told: the
// environment's WAKE_DATA, else ~/.wake.
func defaultDataDir() string {
	if d := os.Getenv("WAKE_DATA"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".wake")
}

// loadAuthority opens the data directory's authority, writing the local
// roles' credentials files the first time.
func loadAuthority(dataDir string) (*access.Authority, error) {
	auth, err := access.LoadOrCreate(filepath.Join(dataDir, keysDir))
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(dataDir, credsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, role := range localRoles {
		path := credsPath(dataDir, role)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		u, err := auth.Issue(role, "", "wake "+string(role))
		if err != nil {
			return nil, err
		}
		if err := u.WriteCreds(path); err != nil {
			return nil, err
		}
	}
	return auth, nil
}

// credsPath is role's credentials file in dataDir.
func credsPath(dataDir string, role access.Role) string {
	return filepath.Join(dataDir, credsDir, string(role)+".creds")
}

// natsURL is the URL clients reach the embedded server at addr with.
func natsURL(addr string, tls bool) string {
	if tls {
		return "tls://" + addr
	}
	return "nats://" + addr
}

func writeNATSURL(dataDir, url string) error {
	return os.WriteFile(filepath.Join(dataDir, urlFile), []byte(url+"\n"), 0o644)
}

// servedNATSURL is the URL the data directory's `wake up` last served its
// embedded NATS server on, as it listens (its host may be 0.0.0.0); ""
// if none.
func servedNATSURL(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, urlFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// localNATSURL is servedNATSURL as this machine reaches it: an
// unspecified host is 127.0.0.1, which the server's certificate names.
func localNATSURL(dataDir string) string {
	return withHost(servedNATSURL(dataDir), func(net.IP) string { return "127.0.0.1" })
}

// withHost is url with an unspecified host replaced by host's answer;
// other URLs are returned as they are.
func withHost(url string, host func(net.IP) string) string {
	scheme, addr, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	h, port, err := net.SplitHostPort(addr)
	if err != nil {
		return url
	}
	ip := net.ParseIP(h)
	if ip == nil || !ip.IsUnspecified() {
		return url
	}
	return scheme + "://" + net.JoinHostPort(host(ip), port)
}

// serverNames are the names and addresses a certificate for a server
// listening on host must carry: host itself, or every address of this
// machine when host is unspecified.
func serverNames(host string) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil {
		names = append(names, h)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
		return append(names, host)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			names = append(names, n.IP.String())
		}
	}
	return names
}

// trustCA makes a connection trust the CA in file when the server asks
// for TLS, and still speak plainly to one that does not (nats.RootCAs
// would insist on TLS).
func trustCA(file string) (nats.Option, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return func(o *nats.Options) error {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
		return nil
	}, nil
}

// runJoin is `wake join`: on the machine of `wake up`, a one-line token
// that lets one node's agent join with its own identity.
func runJoin(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("join", flag.ContinueOnError)
	dataDir := fs.String("data", defaultDataDir(), "data directory of the `wake up` the node joins")
	server := fs.String("server", "", "NATS URL(s) the node reaches the cluster at (default: the one `wake up` serves, with this machine's address)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: wake join [--data DIR] [--server URL] NODE")
	}
	node := fs.Arg(0)
	if *server == "" {
		*server = reachableURL(servedNATSURL(*dataDir))
		if *server == "" {
			return fmt.Errorf("%s has no NATS address: start wake up with --nats-listen, or give --server", *dataDir)
		}
	}
	if _, err := os.Stat(filepath.Join(*dataDir, keysDir)); err != nil {
		return fmt.Errorf("no wake up has run with data directory %s: %w", *dataDir, err)
	}
	auth, err := loadAuthority(*dataDir)
	if err != nil {
		return err
	}
	u, err := auth.Issue(access.Agent, node, "wake agent "+node)
	if err != nil {
		return err
	}
	creds, err := u.Creds()
	if err != nil {
		return err
	}
	j := access.Join{Node: node, Servers: *server, Creds: string(creds)}
	if strings.HasPrefix(*server, "tls://") {
		ca, err := os.ReadFile(filepath.Join(*dataDir, "pki", "ca.crt"))
		if err != nil {
			return err
		}
		j.CA = string(ca)
	}
	token, err := j.Token()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, token)
	return nil
}

// reachableURL is url with an unspecified host replaced by this
// machine's first non-loopback address, which other machines can reach.
func reachableURL(url string) string {
	return withHost(url, func(ip net.IP) string {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
		return ip.String()
	})
}

// roleLogs is the log as one role writes it: signed with the role's key.
type roleLogs func(access.Role) *events.Log

// identity is how a control plane's roles sign the events they append
// (a role without a key appends unsigned), and whose signatures its
// audit trusts (nil: none checked).
type identity struct {
	keys  map[access.Role]nkeys.KeyPair
	trust func() (audit.Trust, error)
}

// logs gives each role log signed with its key; one connection serves
// them all.
func (id identity) logs(log *events.Log) (roleLogs, error) {
	signed := map[access.Role]*events.Log{}
	for role, kp := range id.keys {
		l, err := log.WithSigner(kp)
		if err != nil {
			return nil, err
		}
		signed[role] = l
	}
	return func(role access.Role) *events.Log {
		if l, ok := signed[role]; ok {
			return l
		}
		return log
	}, nil
}

// localIdentity is wake up's: each role signs with the key of its
// credentials file in the data directory, the local agent with its
// node's (node: "" when it runs none), and the audit trusts every
// identity auth (the data directory's authority) issued.
func localIdentity(auth *access.Authority, dataDir, node string) (identity, error) {
	id := identity{keys: map[access.Role]nkeys.KeyPair{}}
	var err error
	for _, role := range []access.Role{access.Gateway, access.Scheduler, access.Controllers} {
		if id.keys[role], err = events.LoadSigner(credsPath(dataDir, role)); err != nil {
			return identity{}, err
		}
	}
	if node != "" {
		if id.keys[access.Agent], err = localAgentKey(auth, dataDir, node); err != nil {
			return identity{}, err
		}
	}
	id.trust = trustOf(auth)
	return id, nil
}

// localAgentKey is the key of the local agent's identity,
// <data>/creds/agent.creds, issued for node the first time (and again if
// the machine's name changed).
func localAgentKey(auth *access.Authority, dataDir, node string) (nkeys.KeyPair, error) {
	path := credsPath(dataDir, access.Agent)
	if b, err := os.ReadFile(path); err == nil && access.CheckCreds(b, access.Agent, node) == nil {
		return events.LoadSigner(path)
	}
	u, err := auth.Issue(access.Agent, node, "wake agent "+node)
	if err != nil {
		return nil, err
	}
	if err := u.WriteCreds(path); err != nil {
		return nil, err
	}
	return nkeys.FromSeed(u.Seed)
}

// trustOf is the audit's trust: every identity auth issued until the
// moment it is asked, on the subjects its role may write.
func trustOf(auth *access.Authority) func() (audit.Trust, error) {
	return func() (audit.Trust, error) {
		ids, err := auth.Issued()
		if err != nil {
			return nil, err
		}
		trust := audit.Trust{}
		for _, id := range ids {
			trust[id.Public] = audit.Signer{Name: strings.TrimSpace(string(id.Role) + " " + id.Node), Subjects: id.LogSubjects()}
		}
		return trust, nil
	}
}

// identity is a separate role's: it signs with the key of its
// credentials file (none with a password in the URL), and its audit
// trusts the identities of the data directory's authority, if it has one.
func (f *natsFlags) identity(role access.Role) (identity, error) {
	id := identity{}
	kp, err := f.signer()
	if err != nil {
		return identity{}, err
	}
	if kp != nil {
		id.keys = map[access.Role]nkeys.KeyPair{role: kp}
	}
	dir := filepath.Join(cmp.Or(f.dataDir, defaultDataDir()), keysDir)
	if !fileExists(dir) {
		return id, nil
	}
	auth, err := access.LoadOrCreate(dir)
	if err != nil {
		return identity{}, err
	}
	id.trust = trustOf(auth)
	return id, nil
}

// signer is the key f's credentials file signs with, nil without one.
func (f *natsFlags) signer() (nkeys.KeyPair, error) {
	if f.creds == "" {
		return nil, nil
	}
	return events.LoadSigner(f.creds)
}
