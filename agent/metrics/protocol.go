package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events/access"
)

// Version is the protocol's; a request of another version is refused.
const Version = 1

// Bounds of a request, so that one request is bounded work for the agent.
const (
	MaxPods       = 1024    // uids in one request (the kubelet runs 110 pods by default)
	MaxUIDLength  = 128     // bytes of one uid (Kubernetes' are 36)
	MaxRequestLen = 1 << 18 // bytes of one request
)

// Subject is where the agent of node answers metrics requests.
func Subject(node string) string { return access.NodeSubject(node, access.VerbMetrics) }

// Request asks a node for its usage.
type Request struct {
	V    int  `json:"v"`
	Node bool `json:"node,omitempty"` // the node's own usage
	// Pods are the uids of the pods wanted; AllPods asks for every pod of
	// the node instead.
	Pods    []string `json:"pods,omitempty"`
	AllPods bool     `json:"allPods,omitempty"`
}

// Check validates a request as the agent receives it.
func (r Request) Check() error {
	if r.V != Version {
		return &Error{Reason: ReasonBadRequest, Message: fmt.Sprintf("metrics request of version %d, want %d", r.V, Version)}
	}
	if len(r.Pods) > MaxPods {
		return &Error{Reason: ReasonBadRequest, Message: fmt.Sprintf("metrics request names %d pods, at most %d", len(r.Pods), MaxPods)}
	}
	for _, uid := range r.Pods {
		if uid == "" || len(uid) > MaxUIDLength {
			return &Error{Reason: ReasonBadRequest, Message: fmt.Sprintf("metrics request names a pod uid of %d bytes", len(uid))}
		}
	}
	return nil
}

// Reply answers a request.
type Reply struct {
	Node  *Usage     `json:"node,omitempty"`
	Pods  []PodUsage `json:"pods,omitempty"`
	Error *Error     `json:"error,omitempty"`
}

// Usage is a rate between the last two samples of one cgroup.
type Usage struct {
	Timestamp time.Time     `json:"timestamp"` // of the latest sample
	Window    time.Duration `json:"window"`    // between the two samples (nanoseconds)
	CPU       uint64        `json:"cpuNanocores"`
	Memory    int64         `json:"memoryWorkingSetBytes"`
}

// PodUsage is one pod's usage and its running containers'.
type PodUsage struct {
	UID        string           `json:"uid"`
	Usage      Usage            `json:"usage"`
	Containers []ContainerUsage `json:"containers,omitempty"`
}

// ContainerUsage is one running container's usage.
type ContainerUsage struct {
	Name  string `json:"name"`
	Usage Usage  `json:"usage"`
}

// Reasons of a failed request: Kubernetes Status reasons.
const (
	ReasonBadRequest  = "BadRequest"
	ReasonUnavailable = "ServiceUnavailable"
)

// Error is a failed request.
type Error struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Reason + ": " + e.Message }

// Client asks agents for metrics.
type Client struct{ NC *nats.Conn }

// Get asks node's agent; ctx bounds the wait. A node whose agent does not
// subscribe fails at once with ReasonUnavailable.
func (c Client) Get(ctx context.Context, node string, req Request) (Reply, error) {
	req.V = Version
	body, err := json.Marshal(req)
	if err != nil {
		return Reply{}, err
	}
	m, err := c.NC.RequestWithContext(ctx, Subject(node), body)
	if errors.Is(err, nats.ErrNoResponders) {
		return Reply{}, &Error{Reason: ReasonUnavailable, Message: fmt.Sprintf("no agent answers for node %q", node)}
	}
	if err != nil {
		return Reply{}, err
	}
	var r Reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return Reply{}, fmt.Errorf("the agent of node %q answered %q: %w", node, m.Data, err)
	}
	if r.Error != nil {
		return r, r.Error
	}
	return r, nil
}
