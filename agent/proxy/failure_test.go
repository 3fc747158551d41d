package proxy

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// An update the kernel refuses is reported through OnFailure, leaves the
// previous rules serving, and is followed by a full replace that converges.
func TestProxyReportsRefusedUpdate(t *testing.T) {
	n := newTestNS(t)
	n.serve(t, "10.244.0.2:8080", "a")
	n.serve(t, "10.244.0.3:8080", "b")
	v := &fakeView{Projection: projections.New(projections.Options{})}
	v.put(t, events.ObjectCreated, svcRef("default", "web"), service("default", "web", "ClusterIP", "10.96.0.10", port{Port: 80}))
	seq := v.put(t, events.ObjectCreated, sliceRef("default", "web-a"), endpointSlice("default", "web-a", "web", "IPv4",
		[]ep{{"10.244.0.2", nil}, {"10.244.0.3", nil}}, port{Port: 8080}))

	failures := make(chan error, 4)
	ctx, cancel := context.WithCancel(t.Context())
	p := New(Config{View: v, Conn: n.conn, RetryAfter: 200 * time.Millisecond, OnFailure: func(err error) { failures <- err }})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := p.WaitFor(wctx, seq); err != nil {
		t.Fatal(err)
	}

	// Someone else jumps to a's endpoint chain: removing a must fail.
	conn, err := n.conn()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLasting()
	sp := ServicePort{Name: "default/web:80", ClusterIP: netip.MustParseAddr("10.96.0.10"), Protocol: protoTCP, Port: 80,
		Endpoints: epList(8080, "10.244.0.2", "10.244.0.3")}
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: TableName}
	pin := conn.AddChain(&nftables.Chain{Name: "pin", Table: table})
	conn.AddRule(&nftables.Rule{Table: table, Chain: pin, Exprs: []expr.Any{
		&expr.Verdict{Kind: expr.VerdictJump, Chain: sp.EndpointChain(sp.Endpoints[0])}}})
	if err := conn.Flush(); err != nil {
		t.Fatalf("pinning a's endpoint chain: %v", err)
	}
	seq = v.put(t, events.ObjectUpdated, sliceRef("default", "web-a"), endpointSlice("default", "web-a", "web", "IPv4",
		[]ep{{"10.244.0.2", no}, {"10.244.0.3", nil}}, port{Port: 8080}))
	select {
	case err := <-failures:
		t.Logf("refused update reported: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no failure reported for a refused update")
	}
	// The full replace that follows drops the whole table, pin included.
	if err := p.WaitFor(wctx, seq); err != nil {
		t.Fatal(err)
	}
	if seen, err := n.dial("10.96.0.10:80", 20); err != nil || seen["b"] != 20 {
		t.Fatalf("after the replace: %v, %v; want only b", seen, err)
	}
	if p.Failures() != 1 {
		t.Errorf("%d failures counted, want 1", p.Failures())
	}
}
