package deployment_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/polymorphichelpers"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/gateway"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/deployment"
	"github.com/wakehq/wake/services/controllers/replicaset"
	"github.com/wakehq/wake/services/controllers/replicaset/kubelettest"
	"github.com/wakehq/wake/services/reconcile/reconciletest"
)

// TestKubectlRollout drives the controllers through the real gateway with
// client-go and kubectl's own rollout helpers (status, history, undo).
func TestKubectlRollout(t *testing.T) {
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	proj := projections.New(projections.Options{})
	gw := gateway.New(gateway.Config{Log: log, Projection: proj, Tokens: gateway.Tokens{"tok": {Name: "tester"}}})
	ts := httptest.NewUnstartedServer(gw.Handler())
	ts.StartTLS()
	reconciletest.Go(t, ctx, cancel,
		func(ctx context.Context) error { return proj.Run(ctx, log, nil) },
		replicaset.Loop(log, proj).Run, deployment.Loop(log, proj).Run, kubelettest.Loop(log, proj, nil).Run,
	)
	t.Cleanup(ts.Close) // before the loops stop
	<-proj.Ready()
	if err := gw.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	rc := &rest.Config{Host: ts.URL, BearerToken: "tok", QPS: -1}
	rc.TLSClientConfig.Insecure = true
	client := kubernetes.NewForConfigOrDie(rc)
	deps := client.AppsV1().Deployments("default")

	if _, err := deps.Create(ctx, newDeployment(2, "nginx:1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() *appsv1.Deployment {
		d, err := deps.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	c := &cluster{log: log, proj: proj}
	rolledOut := func(image, revision string, replicas int) func() bool {
		return func() bool {
			d := get()
			_, ok := rolloutStatus(t, d)
			return ok && d.Annotations[deployment.RevisionAnnotation] == revision && c.runningPods()[image] == replicas && len(c.runningPods()) == 1
		}
	}
	describe := func() string { msg, _ := rolloutStatus(t, get()); return msg }
	eventually(t, "first rollout", rolledOut("nginx:1", "1", 2), describe)

	d := get()
	d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	if _, err := deps.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "second rollout", rolledOut("nginx:2", "2", 2), describe)

	// kubectl rollout undo
	rb, err := polymorphichelpers.RollbackerFor(schema.GroupKind{Group: "apps", Kind: "Deployment"}, client)
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := rb.Rollback(get(), nil, 0, util.DryRunNone); err != nil || msg != "rolled back" {
		t.Fatalf("rollback: %q %v", msg, err)
	}
	eventually(t, "undo", rolledOut("nginx:1", "3", 2), describe)

	// kubectl rollout history
	hv, err := polymorphichelpers.HistoryViewerFor(schema.GroupKind{Group: "apps", Kind: "Deployment"}, client)
	if err != nil {
		t.Fatal(err)
	}
	history, err := hv.ViewHistory("default", "web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if fields := strings.Fields(history); strings.Join(fields, " ") != "REVISION CHANGE-CAUSE 2 <none> 3 <none>" {
		t.Fatalf("history:\n%s", history)
	}

	// kubectl scale
	scale, err := deps.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 4
	if _, err := deps.UpdateScale(ctx, "web", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "scaled to 4", rolledOut("nginx:1", "3", 4), describe)
}
