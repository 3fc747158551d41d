package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	pfconst "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// podPortForward serves GET and POST pods/{name}/portforward, as the
// kubelet does behind kube-apiserver: the connection becomes SPDY/3.1,
// either upgraded directly or tunnelled in a WebSocket (what kubectl tries
// first), and each pair of streams the client opens is one forwarded
// connection (portforward_streams.go), relayed over NATS to the agent of
// the pod's node (agent/portforward), which dials the port inside the pod.
func (s *Server) podPortForward(w http.ResponseWriter, r *http.Request, t target) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed(r, t)
	}
	if err := checkQueryPorts(r.URL.Query()["ports"]); err != nil {
		return err
	}
	tunnel := websocket.IsWebSocketUpgrade(r)
	if err := checkPortForwardUpgrade(r, tunnel); err != nil {
		return err
	}
	pod, err := s.forwardedPod(r, t)
	if err != nil {
		return err
	}
	f := newForwarder(r.Context(), s, pod)
	defer f.cancel()
	var conn httpstream.Connection
	if tunnel {
		ws, err := tunnelUpgrader.Upgrade(w, r, nil)
		if err != nil { // Upgrade has answered
			return nil
		}
		if conn, err = spdy.NewServerConnection(newWSConn(ws), f.accept); err != nil {
			return nil // NewServerConnection closed the WebSocket
		}
	} else {
		httpstream.Handshake(r, w, []string{pfconst.PortForwardV1Name}) // checked: adds the header
		if conn = spdy.NewResponseUpgrader().UpgradeResponse(w, r, f.accept); conn == nil {
			return nil // UpgradeResponse has answered
		}
	}
	defer conn.Close()
	f.run(conn)
	return nil
}

var tunnelUpgrader = websocket.Upgrader{
	Subprotocols: []string{pfconst.WebsocketsSPDYTunnelingPortForwardV1},
	// Bearer tokens, not cookies, authenticate (as for exec).
	CheckOrigin:     func(*http.Request) bool { return true },
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
}

// checkPortForwardUpgrade answers a request that cannot become a
// port-forward connection with a 400 Status (kube-apiserver's own
// upgraders answer in plain text; a Status is what clients print).
func checkPortForwardUpgrade(r *http.Request, tunnel bool) error {
	if tunnel {
		if !slices.Contains(websocket.Subprotocols(r), pfconst.WebsocketsSPDYTunnelingPortForwardV1) {
			return apierrors.NewBadRequest(fmt.Sprintf("port-forward over a WebSocket needs the subprotocol %s (got %v)",
				pfconst.WebsocketsSPDYTunnelingPortForwardV1, websocket.Subprotocols(r)))
		}
		return nil
	}
	if !httpstream.IsUpgradeRequest(r) || !strings.Contains(strings.ToLower(r.Header.Get(httpstream.HeaderUpgrade)), strings.ToLower(spdy.HeaderSpdy31)) {
		return apierrors.NewBadRequest(fmt.Sprintf("port-forward needs an upgrade to %s (or a WebSocket with the subprotocol %s)",
			spdy.HeaderSpdy31, pfconst.WebsocketsSPDYTunnelingPortForwardV1))
	}
	var offered []string
	for _, v := range r.Header.Values(httpstream.HeaderProtocolVersion) {
		for p := range strings.SplitSeq(v, ",") {
			offered = append(offered, strings.TrimSpace(p))
		}
	}
	if !slices.Contains(offered, pfconst.PortForwardV1Name) {
		return apierrors.NewBadRequest(fmt.Sprintf("port-forward needs the header %s: %s (got %q)",
			httpstream.HeaderProtocolVersion, pfconst.PortForwardV1Name, offered))
	}
	return nil
}

// checkQueryPorts checks PodPortForwardOptions' ports: SPDY clients name
// the port of each stream in its headers instead, but a port given here
// must still be one.
func checkQueryPorts(ports []string) error {
	for _, p := range ports {
		for v := range strings.SplitSeq(p, ",") {
			if _, err := parsePort(v); err != nil {
				return apierrors.NewBadRequest(err.Error())
			}
		}
	}
	return nil
}

// parsePort reads a port: 1 to 5 decimal digits, 1..65535.
func parsePort(s string) (int, error) {
	if len(s) == 0 || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("invalid port %q: want a number in 1..65535", s)
	}
	n, _ := strconv.Atoi(s)
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q: want a number in 1..65535", s)
	}
	return n, nil
}

// forwardedPod is the pod to forward to, read consistently: bound to a
// node and running there. Ports belong to the pod, so unlike boundPod no
// container is resolved.
func (s *Server) forwardedPod(r *http.Request, t target) (*corev1.Pod, error) {
	pod, err := s.consistentPod(r, t)
	if err != nil {
		return nil, err
	}
	switch {
	case pod.Spec.NodeName == "":
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	case pod.Status.Phase != corev1.PodRunning:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unable to forward port because pod is not running. Current status=%v", pod.Status.Phase))
	}
	return pod, nil
}
