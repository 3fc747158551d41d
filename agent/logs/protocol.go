package logs

import (
	"fmt"
	"time"

	"github.com/wakehq/wake/events/access"
)

// Version is the protocol version a Request carries.
const Version = 1

// Headers of the messages the agent sends to the request's reply subject.
const (
	HeaderSeq     = "Wake-Log-Seq"     // 1, 2, … on every message
	HeaderControl = "Wake-Log-Control" // on the hello: where acks and cancel go
	HeaderEnd     = "Wake-Log-End"     // the last message of a stream that ended well
	HeaderError   = "Wake-Log-Error"   // the last message, with a Reason; the body is the message
)

// Flow control and liveness defaults.
const (
	MaxChunk    = 64 << 10
	Window      = 16 // chunks sent and not yet acknowledged
	Keepalive   = 5 * time.Second
	IdleTimeout = 6 * Keepalive
)

// Subject is where the agent of node answers log requests.
func Subject(node string) string { return access.NodeSubject(node, access.VerbLogs) }

// Request asks for one container's log, with the options of kubectl logs
// (PodLogOptions). The gateway has checked the pod and container names.
type Request struct {
	V            int        `json:"v"`
	Namespace    string     `json:"namespace"`
	Pod          string     `json:"pod"`
	UID          string     `json:"uid"`
	Container    string     `json:"container"`
	Previous     bool       `json:"previous,omitempty"`
	Follow       bool       `json:"follow,omitempty"`
	Timestamps   bool       `json:"timestamps,omitempty"`
	TailLines    *int64     `json:"tailLines,omitempty"`
	LimitBytes   *int64     `json:"limitBytes,omitempty"`
	SinceSeconds *int64     `json:"sinceSeconds,omitempty"` // from the agent's clock
	SinceTime    *time.Time `json:"sinceTime,omitempty"`
}

// Reasons of an Error, named as Kubernetes Status reasons.
const (
	ReasonBadRequest  = "BadRequest"
	ReasonNotFound    = "NotFound"
	ReasonInternal    = "InternalError"
	ReasonUnavailable = "ServiceUnavailable" // no agent answers, or it went silent
	ReasonTimeout     = "Timeout"
)

// Error is a log request that failed, as the agent (or the client) says.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Reason, e.Message) }
