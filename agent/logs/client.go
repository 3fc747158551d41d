package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// Client asks agents for logs over NATS.
type Client struct {
	NC *nats.Conn
	// HelloTimeout bounds the wait for the agent's first answer (10s);
	// Keepalive is how often acks are sent while waiting (the package's).
	HelloTimeout, Keepalive time.Duration
}

// Stream copies the log req asks of node's agent to w. started runs once
// the agent has accepted the request, before any log byte; flush after
// every chunk. A failure before started is an *Error with the agent's
// reason; leaving ctx cancels the stream on the agent.
func (c *Client) Stream(ctx context.Context, node string, req Request, w io.Writer, started, flush func()) error {
	hello, keepalive := c.HelloTimeout, c.Keepalive
	if hello <= 0 {
		hello = 10 * time.Second
	}
	if keepalive <= 0 {
		keepalive = Keepalive
	}
	req.V = Version
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	inbox := c.NC.NewInbox()
	ch := make(chan *nats.Msg, 4*Window)
	sub, err := c.NC.ChanSubscribe(inbox, ch)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := c.NC.PublishMsg(&nats.Msg{Subject: Subject(node), Reply: inbox, Data: body}); err != nil {
		return &Error{ReasonUnavailable, fmt.Sprintf("asking node %q for logs: %v", node, err)}
	}
	var (
		seq   uint64
		ctl   string
		acked uint64
	)
	ack := func() {
		if ctl != "" && seq > acked {
			c.NC.Publish(ctl, []byte("ack "+strconv.FormatUint(seq, 10)))
			acked = seq
		}
	}
	defer func() {
		if ctl != "" {
			c.NC.Publish(ctl, []byte("cancel")) // harmless after the end
		}
	}()
	timer := time.NewTimer(hello)
	defer timer.Stop()
	tick := time.NewTicker(keepalive)
	defer tick.Stop()
	for {
		var m *nats.Msg
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if ctl != "" {
				c.NC.Publish(ctl, []byte("ack "+strconv.FormatUint(seq, 10)))
			}
			continue
		case <-timer.C:
			if ctl == "" {
				return &Error{ReasonTimeout, fmt.Sprintf("node %q did not answer the log request in %s", node, hello)}
			}
			return &Error{ReasonUnavailable, fmt.Sprintf("node %q stopped sending the log", node)}
		case m = <-ch:
		}
		if m.Header.Get("Status") == "503" {
			return &Error{ReasonUnavailable, fmt.Sprintf("no agent of node %q answers log requests", node)}
		}
		n, _ := strconv.ParseUint(m.Header.Get(HeaderSeq), 10, 64)
		if n != seq+1 {
			return &Error{ReasonInternal, fmt.Sprintf("log stream from node %q lost messages (got %d after %d)", node, n, seq)}
		}
		seq = n
		timer.Reset(4 * keepalive) // the agent sends at least a heartbeat per keepalive
		switch {
		case m.Header.Get(HeaderError) != "":
			ctl = ""
			return &Error{m.Header.Get(HeaderError), string(m.Data)}
		case m.Header.Get(HeaderEnd) != "":
			ctl = ""
			return nil
		case seq == 1:
			if ctl = m.Header.Get(HeaderControl); ctl == "" {
				return &Error{ReasonInternal, "log stream without a control subject"}
			}
			started()
			continue
		}
		if len(m.Data) > 0 {
			if _, err := w.Write(m.Data); err != nil {
				return err
			}
			flush()
		}
		if seq-acked >= Window/4 {
			ack()
		}
	}
}
