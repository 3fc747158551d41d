package gateway_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/gateway"
	"github.com/wakehq/wake/projections"
)

const token = "test-token"

// env is a gateway over an in-process NATS server, served over TLS.
type env struct {
	log    *events.Log
	proj   *projections.Projection
	url    string
	config *rest.Config
	client *kubernetes.Clientset
}

func start(t testing.TB) *env { return startWith(t, nil) }

// startWith is start with the gateway's config adjusted by tune.
func startWith(t testing.TB, tune func(*gateway.Config)) *env {
	t.Helper()
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	proj := projections.New(projections.Options{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		proj.Run(ctx, log, nil)
	}()
	cfg := gateway.Config{Log: log, Projection: proj, Tokens: gateway.Tokens{token: {Name: "tester", Groups: []string{gateway.AdminGroup}}}}
	if tune != nil {
		tune(&cfg)
	}
	gw := gateway.New(cfg)
	ts := httptest.NewUnstartedServer(gw.Handler())
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(func() {
		ts.Close()
		cancel()
		<-done
	})
	<-proj.Ready()
	if err := gw.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	rc := &rest.Config{Host: ts.URL, BearerToken: token, QPS: -1}
	rc.TLSClientConfig.Insecure = true
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &env{log: log, proj: proj, url: ts.URL, config: rc, client: client}
}
