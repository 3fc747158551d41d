package exec

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// The framing of an exec session (sequence numbers, acks, window,
// keepalives) carries other node streams too: agent/portforward sends its
// request to a subject of its own and then speaks in Frames over a Conn.
// Open, Accept, Hello and Refuse are that protocol-neutral handshake;
// Dial and Server are exec's use of it.

// Protocol is one kind of session a node's agent answers.
type Protocol struct {
	Name    string                   // in messages: "exec", "port-forward"
	Subject func(node string) string // where the agent of node answers
}

// protocol is exec's own.
var protocol = Protocol{Name: "exec", Subject: Subject}

// Open sends body to p's subject of node with a fresh inbox as the reply
// and returns the session once the agent's hello arrives. A refusal is an
// *Error with the agent's reason; no answer within HelloTimeout is a
// ReasonTimeout *Error. The caller must Close the Conn.
func (c *Client) Open(ctx context.Context, p Protocol, node string, body []byte) (*Conn, error) {
	hello := c.HelloTimeout
	if hello <= 0 {
		hello = 10 * time.Second
	}
	inbox := c.NC.NewInbox()
	conn, err := newConn(c.NC, p.Name, inbox, c.Keepalive, c.IdleTimeout)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Conn, error) { conn.fail(err); return nil, err }
	if err := c.NC.PublishMsg(&nats.Msg{Subject: p.Subject(node), Reply: inbox, Data: body}); err != nil {
		return fail(&Error{ReasonUnavailable, fmt.Sprintf("asking node %q to %s: %v", node, p.Name, err)})
	}
	deadline := time.Now().Add(hello)
	timer := time.NewTimer(hello)
	defer timer.Stop()
	var m *nats.Msg
	select {
	case <-ctx.Done():
		go cancelLate(c.NC, conn, time.Until(deadline))
		return nil, ctx.Err()
	case <-timer.C:
		return fail(&Error{ReasonTimeout, fmt.Sprintf("node %q did not answer the %s request in %s", node, p.Name, hello)})
	case m = <-conn.in:
	}
	switch {
	case m.Header.Get("Status") == "503":
		return fail(&Error{ReasonUnavailable, fmt.Sprintf("no agent of node %q answers %s requests", node, p.Name)})
	case m.Header.Get(HeaderSeq) != "1":
		return fail(&Error{ReasonInternal, p.Name + " session did not start with its first message"})
	case m.Header.Get(HeaderKind) == KindError:
		return fail(&Error{m.Header.Get(HeaderError), string(m.Data)})
	case m.Header.Get(HeaderKind) != KindHello || m.Header.Get(HeaderControl) == "":
		return fail(&Error{ReasonInternal, p.Name + " session without a control subject"})
	}
	conn.start(m.Header.Get(HeaderControl), 1)
	return conn, nil
}

// cancelLate ends a session its asker gave up during the handshake: a
// hello that still comes within the hello timeout gets a cancel, so the
// agent does not hold the session until its idle timeout.
func cancelLate(nc *nats.Conn, conn *Conn, wait time.Duration) {
	defer conn.fail(ErrClosed)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case m := <-conn.in:
		if ctl := m.Header.Get(HeaderControl); m.Header.Get(HeaderKind) == KindHello && ctl != "" {
			nc.PublishMsg(&nats.Msg{Subject: ctl, Header: nats.Header{HeaderSeq: []string{"1"}, HeaderKind: []string{KindCancel}}})
		}
	}
}

// Accept prepares the answering side of a p session whose request came
// with reply as its reply subject. Nothing is sent until Hello; a request
// that is refused instead gets Refuse, and the Conn is Closed. Zero
// durations are the package's defaults.
func Accept(nc *nats.Conn, p Protocol, reply string, keepalive, idle time.Duration) (*Conn, error) {
	conn, err := newConn(nc, p.Name, nc.NewInbox(), keepalive, idle)
	if err != nil {
		return nil, err
	}
	conn.peer = reply
	return conn, nil
}

// Hello tells the asking side the session runs (its first message) and
// starts receiving. Call it once, on a Conn from Accept.
func (c *Conn) Hello(ctx context.Context) error {
	if err := c.Send(ctx, Frame{Kind: KindHello}); err != nil {
		return err
	}
	c.start(c.peer, 0)
	return nil
}

// Refuse answers a request with e as the session's first and last message.
func Refuse(nc *nats.Conn, reply string, e *Error) error {
	return nc.PublishMsg(&nats.Msg{Subject: reply, Data: []byte(e.Message), Header: nats.Header{
		HeaderSeq: []string{"1"}, HeaderKind: []string{KindError}, HeaderError: []string{e.Reason},
	}})
}
