package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"

	"github.com/wakehq/wake/projections"
)

// Server serves the cluster zone from a projection over UDP and TCP and
// forwards other names.
type Server struct {
	view  *projections.Projection
	cfg   Config
	log   *slog.Logger
	index *Index

	fwd   *forwarder
	addr  netip.AddrPort
	ready chan struct{}
	once  sync.Once
}

var _ dns.Handler = (*Server)(nil)

// New returns a server for view; Run serves it.
func New(view *projections.Projection, cfg Config) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		view:  view,
		cfg:   cfg,
		log:   cfg.Logger,
		index: NewIndex(cfg.Zone, cfg.TTL),
		fwd:   newForwarder(nil, cfg.ForwardTimeout),
		ready: make(chan struct{}),
	}
}

// Ready is closed once the server answers: bound, and its index caught up
// with the projection.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address served (UDP and TCP), once Ready.
func (s *Server) Addr() string { return s.addr.String() }

// Run binds, waits for the projection, loads the index and serves until ctx
// ends.
func (s *Server) Run(ctx context.Context) error {
	pc, ln, err := listen(s.cfg.Listen)
	if err != nil {
		return err
	}
	defer pc.Close()
	defer ln.Close()
	s.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	s.fwd = newForwarder(s.cfg.upstreams(s.addr), s.cfg.ForwardTimeout)

	select {
	case <-s.view.Ready():
	case <-ctx.Done():
		return nil
	}
	w, err := s.sync()
	if err != nil {
		return err
	}
	udp := &dns.Server{PacketConn: pc, Handler: s, UDPSize: maxUDPSize}
	tcp := &dns.Server{Listener: ln, Handler: s, MaxTCPQueries: 1000}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serve(ctx, udp) })
	g.Go(func() error { return serve(ctx, tcp) })
	g.Go(func() error { return s.follow(ctx, w) })
	s.log.Info("cluster DNS serving", "addr", s.Addr(), "zone", s.cfg.Zone, "upstreams", s.fwd.upstreams)
	s.once.Do(func() { close(s.ready) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// serve runs one dns.Server until ctx ends.
func serve(ctx context.Context, srv *dns.Server) error {
	started, done := make(chan struct{}), make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("dns: serve: %w", err)
		}
		return nil
	case <-ctx.Done():
	}
	select {
	case <-started: // Shutdown refuses a server that has not started
	case <-done:
		return nil
	}
	srv.Shutdown()
	<-done
	return nil
}

// listen binds UDP and then TCP on the same port.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	for range 10 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listen udp %s: %w", addr, err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			return nil, nil, fmt.Errorf("dns: listen tcp %s: %w", addr, err)
		}
	}
	return nil, nil, fmt.Errorf("dns: no port free for both UDP and TCP on %s", addr)
}

// sync loads the index from the projection and returns a watcher for what
// comes after.
func (s *Server) sync() (*projections.Watcher, error) {
	seq := s.view.Seq()
	w, err := s.view.Watch(seq)
	if err != nil {
		return nil, err
	}
	s.index.Reset()
	for _, c := range [][2]string{{"", "namespaces"}, {"", "services"}, {"", "pods"}, {"", "endpoints"}, {"discovery.k8s.io", "endpointslices"}} {
		objs, _ := s.view.List(c[0], c[1], "")
		s.index.Load(objs, seq)
	}
	return w, nil
}

// follow applies the projection's changes to the index. The objects a List
// returned may be newer than the watcher's start; replaying the changes in
// order ends at the same state.
func (s *Server) follow(ctx context.Context, w *projections.Watcher) error {
	for {
		batch, err := w.Next(ctx)
		switch {
		case errors.Is(err, projections.ErrExpired):
			s.log.Warn("dns: fell behind the projection; reloading", "err", err)
			if w, err = s.sync(); err != nil {
				return err
			}
			continue
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		}
		keep := batch[:0:0]
		for _, ch := range batch {
			if ch.Object != nil && Watched(ch.Object.Ref.Group, ch.Object.Ref.Resource) {
				keep = append(keep, ch)
			}
		}
		s.index.Apply(keep...)
	}
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	if m := s.respond(r, tcp); m != nil {
		w.WriteMsg(m)
	}
}

// respond builds the reply to r: from the index, or from an upstream.
func (s *Server) respond(r *dns.Msg, tcp bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	opt := r.IsEdns0()
	switch {
	case r.Response:
		return nil
	case r.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
		return fit(m, r, tcp)
	case len(r.Question) != 1:
		m.Rcode = dns.RcodeFormatError
		return fit(m, r, tcp)
	case opt != nil && opt.Version() != 0:
		m.Rcode = dns.RcodeBadVers
		return fit(m, r, tcp)
	}
	q := r.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeNotImplemented
		return fit(m, r, tcp)
	}
	if s.fwd.looped(r) {
		s.log.Error("dns: a forwarded query came back to this server; an upstream points at it", "name", q.Name)
		m.Rcode = dns.RcodeServerFailure
		return fit(m, r, tcp)
	}
	res := s.index.Lookup(q.Name, q.Qtype)
	if res.Forward {
		resp, err := s.fwd.exchange(r, tcp)
		if err != nil {
			s.log.Debug("dns: forward failed", "name", q.Name, "err", err)
			m.Rcode = dns.RcodeServerFailure
			return fit(m, r, tcp)
		}
		resp.Id, resp.Question = r.Id, m.Question
		return fit(resp, r, tcp)
	}
	m.Rcode, m.Authoritative = res.Rcode, res.Authoritative
	m.Answer, m.Ns, m.Extra = res.Answer, res.Ns, res.Extra
	if res.Chase != "" {
		if len(res.Chase) < 250 {
			chase := new(dns.Msg)
			chase.SetQuestion(res.Chase, q.Qtype)
			if resp, err := s.fwd.exchange(chase, tcp); err == nil {
				m.Answer = append(m.Answer[:len(m.Answer):len(m.Answer)], resp.Answer...)
			}
		}
	}
	return fit(m, r, tcp)
}

// maxUDPSize is the largest UDP reply sent, whatever the client offers.
const maxUDPSize = 4096

// fit sizes a reply for the client: OPT echoed when the client sent one,
// truncated to what it can receive (TC set), compressed.
func fit(m, r *dns.Msg, tcp bool) *dns.Msg {
	m.Extra = removeOPT(m.Extra)
	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDPSize)
		m.SetEdns0(uint16(size), opt.Do())
	}
	if tcp {
		size = dns.MaxMsgSize
	}
	m.Compress = true
	m.Truncate(size)
	return m
}

func removeOPT(rrs []dns.RR) []dns.RR {
	out := rrs[:0:0]
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return out
}
