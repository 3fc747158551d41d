package agent

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// The gRPC health check (grpc.health.v1.Health/Check) of a grpc probe,
// spoken directly: one unary call over cleartext HTTP/2, its request and
// response messages encoded by hand (each has one field). Success is the
// kubelet's: the call returns OK with status SERVING.

var grpcTransport = func() *http.Transport {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: &p, DisableKeepAlives: true}
}()

// grpcServing is HealthCheckResponse.ServingStatus SERVING.
const grpcServing = 1

func grpcProbe(ctx context.Context, ip string, g *grpcAction) error {
	host := ip
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(int(g.port))) + "/grpc.health.v1.Health/Check"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(grpcFrame(healthRequest(g.service))))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("User-Agent", "kube-probe/1.37")
	resp, err := (&http.Client{Transport: grpcTransport}).Do(req)
	if err != nil {
		return fmt.Errorf("failed to connect service %q within %v: %w", net.JoinHostPort(host, strconv.Itoa(int(g.port))), deadlineOf(ctx), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return fmt.Errorf("health rpc failed: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health rpc failed: HTTP %d", resp.StatusCode)
	}
	status := resp.Trailer.Get("Grpc-Status")
	if status == "" {
		status = resp.Header.Get("Grpc-Status") // trailers-only answer
	}
	if status != "0" {
		return fmt.Errorf("health rpc failed: grpc-status %s: %s", status, resp.Trailer.Get("Grpc-Message"))
	}
	msg, err := grpcUnframe(body)
	if err != nil {
		return fmt.Errorf("health rpc failed: %w", err)
	}
	if s := healthStatus(msg); s != grpcServing {
		return fmt.Errorf("service unhealthy (responded with %q)", servingStatusName(s))
	}
	return nil
}

// grpcAction is a grpc probe's port and service.
type grpcAction struct {
	port    int32
	service string
}

func deadlineOf(ctx context.Context) string {
	if d, ok := ctx.Deadline(); ok {
		return d.Format("15:04:05.000")
	}
	return "no deadline"
}

// healthRequest is HealthCheckRequest{service}: field 1, length-delimited.
func healthRequest(service string) []byte {
	if service == "" {
		return nil
	}
	b := []byte{0x0a}
	b = binary.AppendUvarint(b, uint64(len(service)))
	return append(b, service...)
}

// healthStatus reads HealthCheckResponse.status (field 1, varint); 0
// (UNKNOWN) when absent or malformed.
func healthStatus(msg []byte) uint64 {
	for len(msg) > 0 {
		key, n := binary.Uvarint(msg)
		if n <= 0 {
			return 0
		}
		msg = msg[n:]
		switch key & 7 {
		case 0: // varint
			v, n := binary.Uvarint(msg)
			if n <= 0 {
				return 0
			}
			if key>>3 == 1 {
				return v
			}
			msg = msg[n:]
		case 2: // length-delimited
			l, n := binary.Uvarint(msg)
			if n <= 0 || uint64(len(msg)-n) < l {
				return 0
			}
			msg = msg[n+int(l):]
		default:
			return 0
		}
	}
	return 0
}

func servingStatusName(s uint64) string {
	switch s {
	case 1:
		return "SERVING"
	case 2:
		return "NOT_SERVING"
	case 3:
		return "SERVICE_UNKNOWN"
	}
	return "UNKNOWN"
}

// grpcFrame is a gRPC length-prefixed message, uncompressed.
func grpcFrame(msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// grpcUnframe reads the one message of a unary response.
func grpcUnframe(b []byte) ([]byte, error) {
	if len(b) < 5 {
		return nil, errors.New("short gRPC message")
	}
	if b[0] != 0 {
		return nil, errors.New("compressed gRPC message")
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if uint64(len(b)-5) < uint64(n) {
		return nil, errors.New("truncated gRPC message")
	}
	return b[5 : 5+n], nil
}
