package devcluster

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Config is the cluster's shape.
type Config struct {
	// Dir is the work directory: logs, NATS files, the agents' state,
	// kubeconfigs. Made if missing; Close removes it.
	Dir string
	// Wake is the wake binary every process runs.
	Wake string
	// Nodes (agents), NATS servers, gateways, schedulers and controller
	// managers; defaults 3, 3, 2, 2, 2.
	Nodes, NATSServers, Gateways, Schedulers, Controllers int
	// Subnet is S in 10.250.S.0/24; 0 picks the first free one.
	Subnet int
	// Registry, when set, is called once the bridge is up with its address
	// and returns the host:port of a plain-HTTP registry the agents may
	// pull from (say, one listening on that address).
	Registry func(hostIP string) (string, error)
	// AgentArgs are added to every `wake agent`.
	AgentArgs []string
	// Auth, when set, is a NATS server configuration (deploy/nats's
	// nats-server.conf) whose users and permissions the NATS servers
	// enforce; every role then connects as its own user.
	Auth string
	// Logf reports progress; nil is quiet.
	Logf func(format string, args ...any)
}

func (c *Config) defaults() {
	for _, f := range []*int{&c.Nodes, &c.NATSServers} {
		if *f == 0 {
			*f = 3
		}
	}
	for _, f := range []*int{&c.Gateways, &c.Schedulers, &c.Controllers} {
		if *f == 0 {
			*f = 2
		}
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Cluster is a running local cluster.
type Cluster struct {
	cfg     Config
	Dir     string
	HostIP  string // the bridge's address
	Bridge  string
	members []member

	// NATS servers, gateways, schedulers, controller managers, agents.
	NATS, Gateways, Schedulers, Controllers, Agents []*Proc
	// Kubeconfigs, one per gateway, in the order of Gateways.
	Kubeconfigs []string
	// Registry is the registry the agents may pull from ("" = none).
	Registry string
	// passwords of the roles' NATS users, when Config.Auth is set.
	passwords map[string]string

	mu         sync.Mutex
	sandboxIDs map[string]bool // pods' cgroups ever seen, for Close
	closed     bool
	stopSuper  context.CancelFunc
	superDone  chan struct{}
}

// supervise restarts processes that exit, until ctx ends.
func (c *Cluster) supervise(ctx context.Context) {
	defer close(c.superDone)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.noteSandboxes()
		for _, p := range c.Procs() {
			if ok, err := p.restartIfExited(); ok {
				c.cfg.Logf("supervisor: restarted %s (err %v)", p.Name, err)
			}
		}
	}
}

// NATSURL is every NATS server's client URL, comma-separated, with the
// controllers' credentials when the servers enforce users.
func (c *Cluster) NATSURL() string { return c.natsURLFor("controllers") }

// natsURLFor is NATSURL with role's credentials.
func (c *Cluster) natsURLFor(role string) string {
	userinfo := ""
	if pw, ok := c.passwords[role]; ok {
		userinfo = role + ":" + pw + "@"
	}
	var urls []string
	for _, m := range c.members {
		if strings.HasPrefix(m.name, "nats") {
			urls = append(urls, "nats://"+userinfo+m.ip+":4222")
		}
	}
	return strings.Join(urls, ",")
}

// authEnv is the environment deploy/nats's configuration reads its
// passwords from, made afresh for this cluster.
func (c *Cluster) authEnv() []string {
	if c.cfg.Auth == "" {
		return nil
	}
	if c.passwords == nil {
		c.passwords = map[string]string{}
		for _, role := range []string{"gateway", "scheduler", "controllers", "agent", "sys"} {
			b := make([]byte, 12)
			rand.Read(b)
			c.passwords[role] = hex.EncodeToString(b)
		}
	}
	return []string{
		"WAKE_GATEWAY_PASSWORD=" + c.passwords["gateway"], "WAKE_SCHEDULER_PASSWORD=" + c.passwords["scheduler"],
		"WAKE_CONTROLLERS_PASSWORD=" + c.passwords["controllers"], "WAKE_AGENT_PASSWORD=" + c.passwords["agent"],
		"NATS_SYS_PASSWORD=" + c.passwords["sys"],
	}
}

// Procs is every process of the cluster.
func (c *Cluster) Procs() []*Proc {
	var out []*Proc
	for _, g := range [][]*Proc{c.NATS, c.Gateways, c.Schedulers, c.Controllers, c.Agents} {
		out = append(out, g...)
	}
	return out
}

// Start makes the network and starts every process, returning once the
// gateways serve and the agents run (nodes may not be Ready yet: see
// WaitNodesReady). On error, what was made is removed.
func Start(ctx context.Context, cfg Config) (c *Cluster, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("devcluster needs root: network namespaces, a bridge, containers")
	}
	cfg.defaults()
	if cfg.Auth != "" {
		if cfg.Auth, err = filepath.Abs(cfg.Auth); err != nil {
			return nil, err
		}
	}
	if cfg.Wake == "" {
		return nil, errors.New("devcluster: Config.Wake (the wake binary) is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s, err := freeSubnet(cfg.Subnet)
	if err != nil {
		return nil, err
	}
	c = &Cluster{cfg: cfg, Dir: dir, HostIP: fmt.Sprintf("10.250.%d.1", s), Bridge: fmt.Sprintf("wdb%d", s), sandboxIDs: map[string]bool{}}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.members = members(s, cfg.NATSServers, cfg.Nodes)
	cfg.Logf("network: bridge %s %s/24, %d namespaces", c.Bridge, c.HostIP, len(c.members))
	if err := setupBridge(c.Bridge, c.HostIP+"/24"); err != nil {
		return c, err
	}
	for _, m := range c.members {
		if err := setupMember(m, c.Bridge, c.HostIP); err != nil {
			return c, err
		}
	}
	if cfg.Registry != nil {
		if c.Registry, err = cfg.Registry(c.HostIP); err != nil {
			return c, fmt.Errorf("registry: %w", err)
		}
	}
	c.makeProcs()
	superCtx, stop := context.WithCancel(context.Background())
	c.stopSuper, c.superDone = stop, make(chan struct{})
	go c.supervise(superCtx)
	if err := c.startNATS(ctx); err != nil {
		return c, err
	}
	if err := c.startControlPlane(); err != nil {
		return c, err
	}
	if err := c.writeKubeconfigs(); err != nil {
		return c, err
	}
	for _, p := range c.Agents {
		if err := p.Start(); err != nil {
			return c, err
		}
	}
	for _, p := range c.Agents {
		if err := p.WaitReady(30 * time.Second); err != nil {
			return c, err
		}
	}
	cfg.Logf("cluster up in %s", dir)
	return c, nil
}

// members lays out the network namespaces of subnet s.
func members(s, natsServers, nodes int) []member {
	var out []member
	for i := 1; i <= natsServers; i++ {
		out = append(out, member{name: fmt.Sprintf("nats%d", i), ip: fmt.Sprintf("10.250.%d.%d", s, 20+i)})
	}
	for i := 1; i <= nodes; i++ {
		out = append(out, member{name: fmt.Sprintf("n%d", i), ip: fmt.Sprintf("10.250.%d.%d", s, 10+i)})
	}
	for i := range out {
		m := &out[i]
		m.netns = fmt.Sprintf("wakedev-%d-%s", s, m.name)
		m.veth = fmt.Sprintf("wdv%d%s", s, m.name)
	}
	return out
}

// Sweep removes what a cluster in dir on subnet s left behind when its
// process died without Close (processes, containers, cgroups, mounts,
// namespaces, links, the directory). Up to 9 NATS servers and nodes.
func Sweep(dir string, s int) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	c := &Cluster{Dir: dir, Bridge: fmt.Sprintf("wdb%d", s), members: members(s, 9, 9), sandboxIDs: map[string]bool{}}
	return c.Close()
}

// freeSubnet is want, or the first S in 10.250.S.0/24 no link uses.
func freeSubnet(want int) (int, error) {
	used := map[int]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip4 := n.IP.To4(); ip4 != nil && ip4[0] == 10 && ip4[1] == 250 {
				used[int(ip4[2])] = true
			}
		}
	}
	for s := want; s < 250; s++ {
		if !used[s] && !linkExists(fmt.Sprintf("wdb%d", s)) && !netnsExists(fmt.Sprintf("wakedev-%d-n1", s)) {
			return s, nil
		}
		if want != 0 {
			return 0, fmt.Errorf("subnet 10.250.%d.0/24 is in use", want)
		}
	}
	return 0, errors.New("no free subnet in 10.250.0.0/16")
}

// makeProcs lays out every process (none started).
func (c *Cluster) makeProcs() {
	logs := filepath.Join(c.Dir, "logs")
	os.MkdirAll(logs, 0o755)
	env := c.authEnv()
	// The NATS URL, with the role's password, goes in the environment
	// (WAKE_NATS), not on command lines anyone can read.
	common := []string{"--replicas", "3"}
	proc := func(name, role, netns, ready string, args ...string) *Proc {
		p := &Proc{Name: name, Role: role, Netns: netns, Log: filepath.Join(logs, name+".log"), ready: ready, bin: c.cfg.Wake, args: args}
		if role != "nats" {
			p.env = []string{"WAKE_NATS=" + c.natsURLFor(role)}
		}
		return p
	}
	var routes []string
	for _, m := range c.members {
		if strings.HasPrefix(m.name, "nats") {
			routes = append(routes, "nats-route://"+m.ip+":6222")
		}
	}
	for _, m := range c.members {
		if !strings.HasPrefix(m.name, "nats") {
			continue
		}
		args := []string{"dev", "nats", "--name", m.name, "--listen", m.ip + ":4222", "--cluster", m.ip + ":6222",
			"--routes", strings.Join(routes, ","), "--store", filepath.Join(c.Dir, m.name)}
		if c.cfg.Auth != "" {
			args = append(args, "--auth-from", c.cfg.Auth)
		}
		p := proc(m.name, "nats", m.netns, "ready: clients on", args...)
		p.env = append(env, "NATS_NAME="+m.name)
		c.NATS = append(c.NATS, p)
	}
	gwData := filepath.Join(c.Dir, "gateway")
	for i := 1; i <= c.cfg.Gateways; i++ {
		c.Gateways = append(c.Gateways, proc(fmt.Sprintf("gateway%d", i), "gateway", "", "wake gateway serving",
			append([]string{"gateway", "--data", gwData, "--listen", fmt.Sprintf("%s:%d", c.HostIP, 6442+i)}, common...)...))
	}
	for i := 1; i <= c.cfg.Schedulers; i++ {
		c.Schedulers = append(c.Schedulers, proc(fmt.Sprintf("scheduler%d", i), "scheduler", "", "standing by",
			append([]string{"scheduler", "--id", fmt.Sprintf("scheduler%d", i)}, common...)...))
	}
	for i := 1; i <= c.cfg.Controllers; i++ {
		c.Controllers = append(c.Controllers, proc(fmt.Sprintf("controllers%d", i), "controllers", "", "standing by",
			append([]string{"controllers", "--id", fmt.Sprintf("controllers%d", i)}, common...)...))
	}
	nodeIP := agentHasFlag(c.cfg.Wake, "node-ip")
	for _, m := range c.members {
		if strings.HasPrefix(m.name, "nats") {
			continue
		}
		args := []string{"agent", "--node", m.name, "--state", filepath.Join(c.Dir, "nodes", m.name), "--protect", c.Dir}
		if c.cfg.Auth == "" {
			// Under deploy/'s permissions an agent adopts the stream and
			// buckets as they are: it may not change them.
			args = append(args, "--replicas", "3")
		}
		if c.Registry != "" {
			args = append(args, "--insecure-registries", c.Registry)
		}
		if nodeIP {
			args = append(args, "--node-ip", m.ip)
		}
		args = append(args, c.cfg.AgentArgs...)
		c.Agents = append(c.Agents, proc("agent-"+m.name, "agent", m.netns, "following the log", args...))
	}
}

// agentHasFlag reports whether `wake agent -h` lists the flag: the agent
// gains flags (--node-ip) that older binaries lack.
func agentHasFlag(wake, flag string) bool {
	out, _ := exec.Command(wake, "agent", "-h").CombinedOutput()
	return strings.Contains(string(out), "-"+flag+" ")
}

// startNATS starts the NATS servers and waits until JetStream answers
// through each of them.
func (c *Cluster) startNATS(ctx context.Context) error {
	for _, p := range c.NATS {
		if err := p.Start(); err != nil {
			return err
		}
	}
	for _, p := range c.NATS {
		if err := p.WaitReady(30 * time.Second); err != nil {
			return err
		}
	}
	return c.WaitJetStream(ctx, 60*time.Second)
}

// WaitJetStream waits until every running NATS server answers JetStream
// requests (the cluster has a meta leader and this server knows it).
func (c *Cluster) WaitJetStream(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for i, p := range c.NATS {
		if !p.Running() {
			continue
		}
		userinfo := ""
		if pw, ok := c.passwords["controllers"]; ok {
			userinfo = "controllers:" + pw + "@"
		}
		url := "nats://" + userinfo + c.members[i].ip + ":4222"
		for {
			err := jetStreamAnswers(ctx, url)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("JetStream through %s: %w", url, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

func jetStreamAnswers(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

// startControlPlane starts the first gateway alone (it makes the CA, the
// tokens and the R3 stream the others adopt), then every other role.
func (c *Cluster) startControlPlane() error {
	first := c.Gateways[0]
	if err := first.Start(); err != nil {
		return err
	}
	if err := first.WaitReady(90 * time.Second); err != nil {
		return err
	}
	rest := append(append(append([]*Proc{}, c.Gateways[1:]...), c.Schedulers...), c.Controllers...)
	for _, p := range rest {
		if err := p.Start(); err != nil {
			return err
		}
	}
	for _, p := range rest {
		if err := p.WaitReady(90 * time.Second); err != nil {
			return err
		}
	}
	return nil
}

// writeKubeconfigs writes one kubeconfig per gateway, all with the admin
// token of the shared tokens.csv.
func (c *Cluster) writeKubeconfigs() error {
	gwData := filepath.Join(c.Dir, "gateway")
	caPEM, err := os.ReadFile(filepath.Join(gwData, "pki", "ca.crt"))
	if err != nil {
		return err
	}
	token, err := adminToken(filepath.Join(gwData, "tokens.csv"))
	if err != nil {
		return err
	}
	c.Kubeconfigs = nil
	for i := range c.Gateways {
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["wake"] = &clientcmdapi.Cluster{Server: fmt.Sprintf("https://%s:%d", c.HostIP, 6443+i), CertificateAuthorityData: caPEM}
		cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
		cfg.Contexts["wake"] = &clientcmdapi.Context{Cluster: "wake", AuthInfo: "admin", Namespace: "default"}
		cfg.CurrentContext = "wake"
		path := filepath.Join(c.Dir, fmt.Sprintf("kubeconfig-gateway%d", i+1))
		if i == 0 {
			path = filepath.Join(c.Dir, "kubeconfig")
		}
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			return err
		}
		c.Kubeconfigs = append(c.Kubeconfigs, path)
	}
	return nil
}

func adminToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return "", err
	}
	for _, rec := range recs {
		if len(rec) >= 2 && rec[1] == "admin" {
			return rec[0], nil
		}
	}
	return "", fmt.Errorf("%s has no admin token", path)
}

// SetLink takes the veth of a member (nats1…, n1…) down or up: down cuts it
// off from every other member and from the host.
func (c *Cluster) SetLink(name string, up bool) error {
	for _, m := range c.members {
		if m.name == name {
			state := "down"
			if up {
				state = "up"
			}
			return ip("link", "set", m.veth, state)
		}
	}
	return fmt.Errorf("no member %q", name)
}

// MemberIP is the address of a member (nats1…, n1…).
func (c *Cluster) MemberIP(name string) string {
	for _, m := range c.members {
		if m.name == name {
			return m.ip
		}
	}
	return ""
}

// Describe lists the processes, one line each.
func (c *Cluster) Describe() string {
	var b strings.Builder
	for _, p := range c.Procs() {
		where := "host"
		if p.Netns != "" {
			where = "netns " + p.Netns
		}
		fmt.Fprintf(&b, "  %-13s pid %-7d %-28s log %s\n", p.Name, p.Pid(), where, p.Log)
	}
	return b.String()
}
