package exec

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Client starts sessions on agents over NATS: exec's with Dial, another
// Protocol's with Open.
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
	req.V = Version
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return c.Open(ctx, protocol, node, body)
}

// ExitCode reads the body of an exit frame.
func ExitCode(f Frame) (int, error) { return strconv.Atoi(string(f.Data)) }
