package portforward

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/agent/exec"
)

// Client starts port-forward sessions on agents over NATS.
type Client struct {
	NC *nats.Conn
	// HelloTimeout bounds the wait for the agent's first answer, its dial
	// included (DialTimeout + 5s); Keepalive and IdleTimeout default to
	// agent/exec's.
	HelloTimeout, Keepalive, IdleTimeout time.Duration
}

// Dial asks node's agent to connect to req's port and returns the session
// once it is connected. A refusal is an *Error with the agent's reason and
// message. The caller must Close the Conn.
func (c *Client) Dial(ctx context.Context, node string, req Request) (*exec.Conn, error) {
	hello := c.HelloTimeout
	if hello <= 0 {
		hello = DialTimeout + 5*time.Second
	}
	req.V = Version
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ec := exec.Client{NC: c.NC, HelloTimeout: hello, Keepalive: c.Keepalive, IdleTimeout: c.IdleTimeout}
	return ec.Open(ctx, protocol, node, body)
}
