package exec

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Client starts exec sessions on agents over NATS.
type Client struct {
	NC *nats.Conn
	// HelloTimeout bounds the wait for the agent's first answer (10s);
	// Keepalive and IdleTimeout default to the package's.
	HelloTimeout, Keepalive, IdleTimeout time.Duration
}

// Dial asks node's agent to run req and returns the session once the
// process runs. A refusal is an *Error with the agent's reason. The
// caller must Close the Conn.
func (c *Client) Dial(ctx context.Context, node string, req Request) (*Conn, error) {
	hello := c.HelloTimeout
	if hello <= 0 {
		hello = 10 * time.Second
	}
	req.V = Version
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	inbox := c.NC.NewInbox()
	conn, err := newConn(c.NC, inbox, c.Keepalive, c.IdleTimeout)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Conn, error) { conn.fail(err); return nil, err }
	if err := c.NC.PublishMsg(&nats.Msg{Subject: Subject(node), Reply: inbox, Data: body}); err != nil {
		return fail(&Error{ReasonUnavailable, fmt.Sprintf("asking node %q to exec: %v", node, err)})
	}
	timer := time.NewTimer(hello)
	defer timer.Stop()
	var m *nats.Msg
	select {
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-timer.C:
		return fail(&Error{ReasonTimeout, fmt.Sprintf("node %q did not answer the exec request in %s", node, hello)})
	case m = <-conn.in:
	}
	switch {
	case m.Header.Get("Status") == "503":
		return fail(&Error{ReasonUnavailable, fmt.Sprintf("no agent of node %q answers exec requests", node)})
	case m.Header.Get(HeaderSeq) != "1":
		return fail(&Error{ReasonInternal, "exec session did not start with its first message"})
	case m.Header.Get(HeaderKind) == KindError:
		return fail(&Error{m.Header.Get(HeaderError), string(m.Data)})
	case m.Header.Get(HeaderKind) != KindHello || m.Header.Get(HeaderControl) == "":
		return fail(&Error{ReasonInternal, "exec session without a control subject"})
	}
	conn.start(m.Header.Get(HeaderControl), 1)
	return conn, nil
}

// ExitCode reads the body of an exit frame.
func ExitCode(f Frame) (int, error) { return strconv.Atoi(string(f.Data)) }
