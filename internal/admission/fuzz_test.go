package admission

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// FuzzValidate feeds arbitrary JSON to Default and the validators as a Pod
// and as a Deployment: whatever a client sends, admission must answer
// without panicking.
func FuzzValidate(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`,
		`{"spec":{"containers":[{"ports":[{"containerPort":99999,"protocol":"x"}],"livenessProbe":{"httpGet":{"port":"http"},"exec":{}}}],"volumes":[{"name":"v"},{"name":"v","hostPath":{"path":"/"},"secret":{}}]}}`,
		`{"spec":{"selector":{"matchExpressions":[{"key":"a","operator":"In"}]},"strategy":{"rollingUpdate":{"maxSurge":"x%","maxUnavailable":-1}},"template":{"spec":{"initContainers":[{"restartPolicy":"Always"}]}}}}`,
		`{"spec":{"replicas":-1,"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"resources":{"limits":{"cpu":"-1","example.com/x":"1m"},"requests":{"cpu":"2"}}}]}}}}`,
	} {
		f.Add([]byte(seed))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "examples", "*.yaml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			if js, err := yaml.YAMLToJSON(data); err == nil {
				f.Add(js)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p corev1.Pod
		if json.Unmarshal(data, &p) == nil {
			Default(&p)
			ValidateCreate(&p)
			old := p.DeepCopy()
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "x"})
			ValidateUpdate(&p, old)
		}
		var d appsv1.Deployment
		if json.Unmarshal(data, &d) == nil {
			Default(&d)
			ValidateCreate(&d)
			ValidateUpdate(&d, d.DeepCopy())
		}
	})
}
