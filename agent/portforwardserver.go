package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/wakehq/wake/agent/exec"
	"github.com/wakehq/wake/agent/network"
	"github.com/wakehq/wake/agent/portforward"
	"github.com/wakehq/wake/agent/runtime"
)

// portForwardServer answers `kubectl port-forward` for the node's pods on
// NATS (agent/portforward), on the event log's connection.
func (a *Agent) portForwardServer() *portforward.Server {
	return &portforward.Server{NC: a.cfg.Log.JetStream().Conn(), Node: a.cfg.NodeName, Dial: a.dialPod, Logger: a.log}
}

// dialPod connects to 127.0.0.1:<port> as the pod sees it: inside its
// network namespace, or on the node for a hostNetwork pod.
func (a *Agent) dialPod(ctx context.Context, req portforward.Request) (net.Conn, error) {
	sb, err := a.podSandbox(req.UID)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(req.Port))
	var c net.Conn
	switch {
	case sb.HostNetwork:
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", addr)
	case sb.NetNS != "":
		c, err = network.DialIn(ctx, sb.NetNS, addr)
	default:
		return nil, &exec.Error{Reason: exec.ReasonInternal, Message: fmt.Sprintf("pod %s/%s has no network namespace on node %q", req.Namespace, req.Pod, a.cfg.NodeName)}
	}
	if err != nil {
		return nil, &exec.Error{Reason: exec.ReasonInternal, Message: fmt.Sprintf("failed to dial %s in pod %s/%s: %v", addr, req.Namespace, req.Pod, err)}
	}
	return c, nil
}

// podSandbox is the sandbox of a pod this node runs, as its worker
// recorded it (pods/<uid>/sandbox.json); the worker's own copy belongs to
// its goroutine.
func (a *Agent) podSandbox(uid string) (*runtime.PodSandbox, error) {
	a.mu.Lock()
	_, running := a.workers[uid]
	a.mu.Unlock()
	notHere := &exec.Error{Reason: exec.ReasonNotFound, Message: fmt.Sprintf("pod with uid %s is not running on node %q", uid, a.cfg.NodeName)}
	if !running {
		return nil, notHere
	}
	b, err := os.ReadFile(a.dir("pods", uid, "sandbox.json"))
	if os.IsNotExist(err) {
		return nil, notHere
	}
	if err != nil {
		return nil, err
	}
	var f sandboxFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("sandbox of pod %s: %w", uid, err)
	}
	return &f.Sandbox, nil
}
