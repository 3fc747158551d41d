// Package network wires pod sandboxes to the node: a Linux bridge (wake0)
// holding the gateway address of the node's pod CIDR, one veth pair per
// pod (host end on the bridge, eth0 in the pod's network namespace), an
// address from the CIDR and a default route via the bridge. It speaks
// netlink directly (vishvananda/netlink); it never shells out.
//
// Addresses are leased in the state directory, one file per address
// (ipam/<ip> holding the pod's id), created with O_EXCL, so that an agent
// restart keeps every pod's address and two pods never share one.
//
// Routes to other nodes' pod CIDRs (host-gateway: via each node's
// InternalIP, which must be on a link this node shares) are planned by the
// pure PlanRoutes and kept by Routes.Sync; wake's routes carry protocol
// RouteProtocol (77), so Sync never touches anyone else's.
//
// It must not decide which pods exist or which nodes exist: the agent
// calls Attach, Detach and Sync. Masquerade and Services are agent/proxy's.
package network
