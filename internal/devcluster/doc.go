// Package devcluster runs a whole wake cluster on one machine, for tests,
// fault drills and demos: three NATS servers clustered with JetStream (R3),
// two gateways, two schedulers, two controller managers and three agents,
// each agent in its own network namespace as its own node. Every process is
// a child `wake` process with its own log file; Close kills them all and
// removes everything the cluster made (network namespaces, links, the
// bridge, the pods' cgroups and mounts, the work directory), and Leftovers
// says what, if anything, is still there.
//
// The network, all inside the machine:
//
//	host: bridge wdb<tag>, 10.250.S.1/24 (gateways, schedulers, controllers run here)
//	  ├─ veth ─ netns wakedev-<tag>-nats1   10.250.S.21  (NATS: clients :4222, routes :6222)
//	  ├─ veth ─ netns wakedev-<tag>-nats2   10.250.S.22
//	  ├─ veth ─ netns wakedev-<tag>-nats3   10.250.S.23
//	  ├─ veth ─ netns wakedev-<tag>-n1      10.250.S.11  (wake agent --node n1)
//	  ├─ veth ─ netns wakedev-<tag>-n2      10.250.S.12
//	  └─ veth ─ netns wakedev-<tag>-n3      10.250.S.13
//
// Cutting a member off (SetLink(name, false)) takes its veth down: that is
// how a drill partitions one NATS server or isolates a node.
//
// Processes are started in their namespace by forking from a thread that
// has entered it (not `ip netns exec`, which remounts /sys and would hide
// the cgroup hierarchies from the agent), in their own process group, with
// SIGKILL as their parent-death signal. A supervisor restarts any process
// that exits unless Kill stopped it, two seconds later, as the systemd
// units in deploy/ do (Restart=always, RestartSec=2); Crash is kill -9 as a
// failure, Kill is kill -9 until Start.
//
// With Config.Auth (deploy/nats/nats-server.conf) the NATS servers enforce
// that file's accounts, users and permissions, and every role connects as
// its own user (URL and password in WAKE_NATS, not on its command line).
//
// Close finds the cluster's containers by their network namespaces (the
// nodes' and the pods', pinned under each node's state directory) and by
// their cgroups (/wake/<pod uid> in every hierarchy), so it never touches
// another cluster's or another test's. Sweep does the same for a cluster
// whose harness died without Close.
//
// It must not be used outside tests and `wake dev cluster`: it needs root
// and changes the machine's network while it runs.
package devcluster
