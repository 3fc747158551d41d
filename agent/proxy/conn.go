package proxy

import (
	"errors"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// socketBuffer is the netlink send and receive buffer: a whole table (a
// restart with thousands of endpoints) goes in one sendmsg, which fails with
// "message too long" beyond the socket's send buffer (wmem_max, 208 KiB by
// default), and each message of the batch is acknowledged.
const socketBuffer = 256 << 20

// ConnOptions are the options of the proxy's nftables connection: lasting,
// with buffers forced past the sysctl limits (the agent runs as root).
func ConnOptions(extra ...nftables.ConnOption) []nftables.ConnOption {
	return append([]nftables.ConnOption{nftables.AsLasting(), nftables.WithSockOptions(bigBuffers)}, extra...)
}

func bigBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = errors.Join(
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, socketBuffer),
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, socketBuffer))
	})
	return errors.Join(err, serr)
}
