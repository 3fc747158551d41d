package main

import (
	"strings"
	"testing"
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
