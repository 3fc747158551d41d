package main

import (
	"strings"
	"testing"
	"time"
)

// kubectl autoscale creates an autoscaling/v2 HorizontalPodAutoscaler,
// which kubectl get and describe show as for kube-apiserver; admission
// refuses what wake cannot serve. (The controller's scaling is tested in
// services/controllers/hpa against the projection.)
func TestKubectlAutoscale(t *testing.T) {
	c := startWake(t, t.TempDir())
	c.mustIn(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: "example/web:v1", resources: {requests: {cpu: 100m}}}]}
`, "apply", "-f", "-")
	contains(t, c.must(t, "autoscale", "deploy/web", "--min=1", "--max=3", "--cpu-percent=50"), "horizontalpodautoscaler.autoscaling/web autoscaled")
	contains(t, c.must(t, "get", "hpa", "web"), "NAME", "REFERENCE", "Deployment/web", "cpu: <unknown>/50%")
	contains(t, c.must(t, "get", "hpa", "web", "-o", "jsonpath={.apiVersion} {.spec.minReplicas} {.spec.maxReplicas}"), "autoscaling/v2 1 3")
	contains(t, c.must(t, "api-resources", "--api-group=autoscaling"), "horizontalpodautoscalers", "hpa")
	for _, bad := range []struct{ spec, want string }{
		{`{scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 3, maxReplicas: 2}`, "maxReplicas"},
		{`{scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, maxReplicas: 3,
  metrics: [{type: External, external: {metric: {name: queue}, target: {type: Value, value: "1"}}}]}`, "only Resource metrics"},
	} {
		out, err := c.kubectl("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: bad}\nspec: "+bad.spec+"\n", "apply", "-f", "-")
		if err == nil || !strings.Contains(out, bad.want) {
			t.Errorf("HPA %s: %v, want a refusal naming %q:\n%s", bad.spec, err, bad.want, out)
		}
	}
}

// The whole chain: `wake up` with real containers, a Deployment whose one
// replica keeps a CPU busy at ten times its request, an HPA targeting 50%:
// the agent's metrics reach the controllers, which scale to the maximum.
func TestAutoscaleScalesUp(t *testing.T) {
	c, stop := upInNetns(t, "--metric-resolution", "1s")
	c.mustIn(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: busy}
spec:
  replicas: 1
  selector: {matchLabels: {app: busy}}
  template:
    metadata: {labels: {app: busy}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: burner
        image: wake.test/tool:v1
        imagePullPolicy: Never
        args: [burn, "3600"]
        resources: {requests: {cpu: 100m}}
`, "apply", "-f", "-")
	c.must(t, "rollout", "status", "deploy/busy", "--timeout=90s")
	c.must(t, "autoscale", "deploy/busy", "--min=1", "--max=3", "--cpu-percent=50")
	deadline := time.Now().Add(90 * time.Second) // a sync every 15 s, metrics after two samples
	for {
		out := c.must(t, "get", "deploy/busy", "-o", "jsonpath={.spec.replicas}")
		if out == "3" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment not scaled to 3 in 90s (spec.replicas %s):\n%s", out, c.must(t, "describe", "hpa", "busy"))
		}
		time.Sleep(time.Second)
	}
	contains(t, c.must(t, "get", "hpa", "busy"), "Deployment/busy", "/50%")
	c.must(t, "delete", "hpa/busy")
	c.must(t, "delete", "deploy/busy", "--wait=true", "--timeout=60s")
	waitFor(t, func() bool {
		out, err := c.kubectl("", "get", "pods", "-o", "name")
		return err == nil && strings.TrimSpace(out) == ""
	})
	stop()
}
