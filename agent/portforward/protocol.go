package portforward

import (
	"fmt"
	"time"

	"github.com/wakehq/wake/agent/exec"
	"github.com/wakehq/wake/events/access"
)

// Version is the protocol version a Request carries.
const Version = 1

// DialTimeout bounds the agent's dial of the pod's port.
const DialTimeout = 10 * time.Second

// Subject is where the agent of node answers port-forward requests.
func Subject(node string) string { return access.NodeSubject(node, access.VerbPortForward) }

// protocol names port-forward sessions in agent/exec's handshake.
var protocol = exec.Protocol{Name: "port-forward", Subject: Subject}

// Request asks to connect to Port of a pod on the node. The gateway has
// checked the names and the port.
type Request struct {
	V         int    `json:"v"`
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	UID       string `json:"uid"`
	Port      int    `json:"port"`
}

// Validate is what the agent checks before it dials.
func (r Request) Validate() error {
	switch {
	case r.V != Version:
		return fmt.Errorf("port-forward request version %d, want %d", r.V, Version)
	case !validPort(r.Port):
		return fmt.Errorf("port %d is not in 1..65535", r.Port)
	case r.UID == "" || r.UID == "." || r.UID == ".." || !safeName(r.UID):
		return fmt.Errorf("invalid pod uid %q", r.UID)
	}
	return nil
}

func validPort(p int) bool { return p > 0 && p < 1<<16 }

func safeName(s string) bool {
	for _, c := range s {
		if c == '/' || c == '\\' || c == 0 {
			return false
		}
	}
	return true
}

// Error is a refused or broken session; Reason is one of exec's.
type Error = exec.Error
