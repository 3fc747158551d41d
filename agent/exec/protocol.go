package exec

import (
	"fmt"
	"time"

	"github.com/wakehq/wake/events/access"
)

// Version is the protocol version a Request carries.
const Version = 1

// Headers of the protocol's messages.
const (
	HeaderSeq     = "Wake-Exec-Seq"     // 1, 2, … per direction, on all but acks
	HeaderAck     = "Wake-Exec-Ack"     // the peer's last sequence consumed
	HeaderKind    = "Wake-Exec-Kind"    // a Kind
	HeaderStream  = "Wake-Exec-Stream"  // of data and close: stdin, stdout, stderr
	HeaderControl = "Wake-Exec-Control" // on the hello: where the gateway sends
	HeaderError   = "Wake-Exec-Error"   // on an error: a Reason
)

// Kinds of messages.
const (
	KindHello  = "hello"
	KindData   = "data"
	KindClose  = "close"  // the stream named by HeaderStream has ended (stdin EOF)
	KindResize = "resize" // body: JSON Size
	KindExit   = "exit"   // body: the exit code in decimal
	KindError  = "error"
	KindCancel = "cancel"
)

// Streams.
const (
	Stdin  = "stdin"
	Stdout = "stdout"
	Stderr = "stderr"
)

// Flow control and liveness defaults.
const (
	MaxChunk    = 64 << 10
	Window      = 16
	Keepalive   = 5 * time.Second
	IdleTimeout = 6 * Keepalive
)

// Subject is where the agent of node answers exec requests.
func Subject(node string) string { return access.NodeSubject(node, access.VerbExec) }

// Request asks to run Command in one container of a pod. The gateway has
// checked the names and that the container should be running.
type Request struct {
	V         int      `json:"v"`
	Namespace string   `json:"namespace"`
	Pod       string   `json:"pod"`
	UID       string   `json:"uid"`
	Container string   `json:"container"`
	Command   []string `json:"command"`
	Stdin     bool     `json:"stdin,omitempty"`
	Stdout    bool     `json:"stdout,omitempty"`
	Stderr    bool     `json:"stderr,omitempty"`
	TTY       bool     `json:"tty,omitempty"`
}

// Size is a terminal size, as the resize stream of remotecommand sends it.
type Size struct {
	Width  uint16 `json:"Width"`
	Height uint16 `json:"Height"`
}

// Reasons of an Error, named as Kubernetes Status reasons.
const (
	ReasonBadRequest  = "BadRequest"
	ReasonNotFound    = "NotFound"
	ReasonInternal    = "InternalError"
	ReasonUnavailable = "ServiceUnavailable" // no agent answers, or it went silent
	ReasonTimeout     = "Timeout"
)

// Error is a session that failed, as the agent (or the client) says.
type Error struct {
	Reason  string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Reason, e.Message) }

// Frame is one sequenced message of a session.
type Frame struct {
	Kind   string
	Stream string // data and close
	Data   []byte
	Reason string // error
}
