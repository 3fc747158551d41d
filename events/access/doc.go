// Package access decides who may touch the log: the NATS identities of
// wake's roles and what each may publish and subscribe to.
//
// A NATS server that takes anonymous clients hands the whole cluster to
// any local process: it can read every Secret in the stream, append
// forged events and purge the log. So the server `wake up` embeds runs in
// NATS's decentralized (JWT) mode with one operator and one account, WAKE,
// whose keys an Authority keeps in the data directory (mode 0600). Every
// connection presents a user JWT signed by the account key; the server
// refuses any other. Each user carries the permissions of one Role:
//
//	admin        everything, including removing events (the CLI: wake image,
//	             sink, events, audit)
//	gateway      append any object; ask agents for logs, exec, images,
//	             port-forwards and metrics; snapshots
//	scheduler    append (bind, preempt); its lease; snapshots
//	controllers  append; audit seals; leases; sinks; agents' metrics
//	agent        one node's identity: its Node object and heartbeat, pods'
//	             status and Events, and only its own wake.node.<node>.*
//	             request subjects
//
// No role but admin may delete or purge the log. The permissions are the
// ones deploy/nats/nats-server.conf gives the password users of a
// multi-machine cluster, narrowed to one node for an agent; a test keeps
// the two in step.
//
// Because users are JWTs, a new node's identity needs no change to the
// server: Join issues one, packed with the server's URL and CA into a
// token the node's `wake agent --join` reads once (see JoinToken).
//
// What an identity cannot narrow: pod subjects do not name the node, so
// an agent may write status for any pod; and every role may read the
// whole stream (agents fold it into their own projection). Kubernetes'
// node authorizer goes further; see the issue on identity.
//
// It must not read or write the log: it only makes credentials and
// server options.
package access
