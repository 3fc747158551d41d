package devcluster

import (
	"slices"
	"strings"
	"testing"

	"github.com/wakehq/wake/events/access"
)

// The identities `wake up` issues (events/access) and the password users
// of deploy/nats/nats-server.conf allow the same subjects, an agent's
// narrowed to its node: one set of rules in two forms, kept in step.
func TestAccessRolesMatchTheDeployConf(t *testing.T) {
	for _, kv := range [][2]string{{"NATS_NAME", "nats-1"}, {"WAKE_GATEWAY_PASSWORD", "g"}, {"WAKE_SCHEDULER_PASSWORD", "s"},
		{"WAKE_CONTROLLERS_PASSWORD", "c"}, {"WAKE_AGENT_PASSWORD", "a"}, {"NATS_SYS_PASSWORD", "x"}} {
		t.Setenv(kv[0], kv[1])
	}
	auth, err := loadAuth(deployConf, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The agent's subjects for node n1 widened to any node, as the static
	// agent user of the conf has them.
	widen := strings.NewReplacer("nodes._.n1", "nodes.>", "HEARTBEATS.n1", "HEARTBEATS.>", "wake.node.n1.", "wake.node.*.", "_INBOX.n1.>", "_INBOX.>")
	norm := func(l []string) []string {
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = widen.Replace(s)
		}
		slices.Sort(out)
		return out
	}
	checked := 0
	for _, u := range auth.Users {
		role := access.Role(u.Username)
		if !slices.Contains(access.Roles, role) {
			continue
		}
		node := ""
		if role == access.Agent {
			node = "n1"
		}
		p, err := access.Permissions(role, node)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		check := func(what string, code, deploy []string) {
			if c, d := norm(code), norm(deploy); !slices.Equal(c, d) {
				t.Errorf("%s %s:\n access %q\n deploy %q", role, what, c, d)
			}
		}
		check("publish allow", p.Pub.Allow, u.Permissions.Publish.Allow)
		check("publish deny", p.Pub.Deny, u.Permissions.Publish.Deny)
		check("subscribe allow", p.Sub.Allow, u.Permissions.Subscribe.Allow)
	}
	if checked != 4 {
		t.Fatalf("compared %d roles with the conf, want gateway, scheduler, controllers and agent", checked)
	}
}
