package access

import (
	"fmt"

	"github.com/nats-io/jwt/v2"

	"github.com/wakehq/wake/events"
)

// Role is what an identity is for; its permissions follow from it.
type Role string

// The roles. Up is the in-process connection of `wake up`, which runs
// every role but admin in one process.
const (
	Admin       Role = "admin"
	Gateway     Role = "gateway"
	Scheduler   Role = "scheduler"
	Controllers Role = "controllers"
	Agent       Role = "agent"
	Up          Role = "up"
)

// Roles are the roles Permissions knows, Up aside.
var Roles = []Role{Admin, Gateway, Scheduler, Controllers, Agent}

// NoLogDeletion are the JetStream API subjects that remove events from
// the log: only admin may publish them.
var NoLogDeletion = []string{
	"$JS.API.STREAM.DELETE." + events.StreamName,
	"$JS.API.STREAM.PURGE." + events.StreamName,
	"$JS.API.STREAM.MSG.DELETE." + events.StreamName,
}

// RemovalSubject is where an operator records the removal of an event
// from the log (audit.RemovalSubject): only admin may publish it.
const RemovalSubject = "wake.audit.removal"

// The requests an agent answers, each on wake.node.<node>.<verb>
// (NodeSubject): the one place these subjects are spelled.
const (
	VerbLogs        = "logs"
	VerbExec        = "exec"
	VerbImages      = "images"
	VerbPortForward = "portforward"
	VerbMetrics     = "metrics"
)

// nodeVerbs are the requests an agent answers.
var nodeVerbs = []string{VerbLogs, VerbExec, VerbImages, VerbPortForward, VerbMetrics}

// InboxPrefix is the prefix of the reply subjects node's agent makes
// (nats.CustomInboxPrefix): its identity may subscribe to these only, so
// it cannot read the replies other clients get on _INBOX.>. They stay
// under _INBOX. so that the roles talking to an agent (a log or exec
// session's control subject is the agent's inbox) may publish there.
func InboxPrefix(node string) string { return "_INBOX." + events.EncodeToken(node) }

// NodeSubject is the subject an agent answers verb on for node.
func NodeSubject(node, verb string) string {
	return "wake.node." + events.EncodeToken(node) + "." + verb
}

// Permissions are role's; node names the agent's node and must be empty
// for every other role.
func Permissions(role Role, node string) (jwt.Permissions, error) {
	if (role == Agent) != (node != "") {
		return jwt.Permissions{}, fmt.Errorf("access: role %q with node %q: an agent needs its node, no other role has one", role, node)
	}
	var p jwt.Permissions
	switch role {
	case Admin:
		p.Pub.Allow.Add(">")
		p.Sub.Allow.Add(">")
		return p, nil
	case Up:
		p.Pub.Allow.Add(">")
		p.Pub.Deny.Add(NoLogDeletion...)
		p.Pub.Deny.Add(RemovalSubject)
		p.Sub.Allow.Add(">")
		return p, nil
	case Gateway:
		p.Pub.Allow.Add("wake.obj.>")
		for _, v := range nodeVerbs {
			p.Pub.Allow.Add("wake.node.*." + v)
		}
		p.Pub.Allow.Add("$JS.API.>", "$KV.WAKE_SINKS.>", "$O.WAKE_SNAPSHOTS.>")
	case Scheduler:
		p.Pub.Allow.Add("wake.obj.>", "$JS.API.>", "$KV.WAKE_LEASES.>", "$O.WAKE_SNAPSHOTS.>")
	case Controllers:
		p.Pub.Allow.Add("wake.obj.>", "wake.audit.seal", "wake.node.*.metrics", "$JS.API.>", "$KV.WAKE_LEASES.>",
			"$KV.WAKE_SINKS.>", "$O.WAKE_SNAPSHOTS.>")
	case Agent:
		tok := events.EncodeToken(node)
		p.Pub.Allow.Add("wake.obj.core.pods.>", "wake.obj.core.nodes._."+tok, "wake.obj.core.events.>",
			"$KV.WAKE_NODE_HEARTBEATS."+tok,
			"$JS.API.STREAM.CREATE.KV_WAKE_NODE_HEARTBEATS", "$JS.API.STREAM.UPDATE.KV_WAKE_NODE_HEARTBEATS",
			"$JS.API.INFO", "$JS.API.STREAM.INFO.>", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST",
			"$JS.API.STREAM.MSG.GET.>", "$JS.API.DIRECT.GET.>", "$JS.API.CONSUMER.>")
		for _, v := range nodeVerbs {
			p.Sub.Allow.Add(NodeSubject(node, v))
		}
	default:
		return jwt.Permissions{}, fmt.Errorf("access: unknown role %q", role)
	}
	// Every role acknowledges, takes flow control and gets replies; an
	// agent on inboxes of its own.
	p.Pub.Allow.Add("$JS.ACK.>", "$JS.FC.>", "_INBOX.>")
	if role == Agent {
		p.Sub.Allow.Add(InboxPrefix(node) + ".>")
	} else {
		p.Sub.Allow.Add("_INBOX.>")
	}
	if role != Agent {
		p.Pub.Deny.Add(NoLogDeletion...)
	}
	return p, nil
}
