package dns

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// loopOption is the EDNS0 option (from the local-use range) that marks a
// query this server forwarded; its data is the server's nonce.
const loopOption = 65312

// forwarder asks the upstream resolvers, in order, until one answers.
type forwarder struct {
	upstreams []string
	timeout   time.Duration
	nonce     []byte
}

func newForwarder(upstreams []string, timeout time.Duration) *forwarder {
	nonce := make([]byte, 8)
	rand.Read(nonce)
	return &forwarder{upstreams: upstreams, timeout: timeout, nonce: nonce}
}

// looped reports whether r is a query this server forwarded itself.
func (f *forwarder) looped(r *dns.Msg) bool {
	opt := r.IsEdns0()
	if opt == nil {
		return false
	}
	for _, o := range opt.Option {
		if l, ok := o.(*dns.EDNS0_LOCAL); ok && l.Code == loopOption && bytes.Equal(l.Data, f.nonce) {
			return true
		}
	}
	return false
}

var errNoUpstream = errors.New("no upstream resolver")

// exchange forwards r (not modified) and returns the first upstream answer;
// a truncated answer over UDP is asked again over TCP.
func (f *forwarder) exchange(r *dns.Msg, tcp bool) (*dns.Msg, error) {
	if len(f.upstreams) == 0 {
		return nil, errNoUpstream
	}
	m := r.Copy()
	m.Id = dns.Id()
	opt := m.IsEdns0()
	if opt == nil {
		m.SetEdns0(dns.DefaultMsgSize, false)
		opt = m.IsEdns0()
	}
	opt.Option = append(opt.Option, &dns.EDNS0_LOCAL{Code: loopOption, Data: f.nonce})
	var errs []error
	for _, u := range f.upstreams {
		resp, err := f.ask(m, u, tcp)
		if err == nil && resp.Truncated && !tcp {
			resp, err = f.ask(m, u, true)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			continue
		}
		return resp, nil
	}
	return nil, errors.Join(errs...)
}

func (f *forwarder) ask(m *dns.Msg, upstream string, tcp bool) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: f.timeout}
	if tcp {
		c.Net = "tcp"
	}
	resp, _, err := c.Exchange(m, upstream)
	return resp, err
}
