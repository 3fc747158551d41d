package admission

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/wakehq/wake/events/kinds"
)

const testNS = "default"

var testTime = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

// decodeYAML decodes a manifest into its typed object, as the gateway does.
func decodeYAML(t testing.TB, data []byte) runtime.Object {
	t.Helper()
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("yaml: %v", err)
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(js, nil, nil)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return obj
}

// exampleFiles are the seed manifests: shared/examples beside the module
// when present, else the copies in testdata.
func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "examples", "*.yaml"))
	if len(files) == 0 {
		files, _ = filepath.Glob(filepath.Join("testdata", "examples", "*.yaml"))
	}
	if len(files) == 0 {
		t.Fatal("no example manifests found")
	}
	return files
}

func loadExample(t *testing.T, name string) runtime.Object {
	t.Helper()
	for _, f := range exampleFiles(t) {
		if filepath.Base(f) == name {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			return decodeYAML(t, data)
		}
	}
	t.Fatalf("example %s not found", name)
	return nil
}

// prepare sets what the gateway sets before admission: namespace, uid and
// creation time.
func prepare(obj runtime.Object) runtime.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(err)
	}
	if k, ok := kindOf(obj); ok && k.Namespaced && m.GetNamespace() == "" {
		m.SetNamespace(testNS)
	}
	if m.GetUID() == "" {
		m.SetUID("0b6c7a52-1c8e-4e0a-9d59-5f3c1a1e2b3c")
	}
	m.SetCreationTimestamp(testTime)
	return obj
}

// admit prepares, defaults and validates obj as a create.
func admit(obj runtime.Object) field.ErrorList {
	prepare(obj)
	Default(obj)
	return ValidateCreate(obj)
}

func om(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name}
}

var appLabels = map[string]string{"app": "web"}

func podTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       podSpec(),
	}
}

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:  "web",
			Image: "nginx:1.27",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
			Env:   []corev1.EnvVar{{Name: "MODE", Value: "prod"}},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			},
			VolumeMounts:   []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}}},
		}},
		Volumes: []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
}

func validPod() *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Labels: appLabels}, Spec: podSpec()}
}

func validDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: om("web"), Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](2),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: podTemplate(),
	}}
}

func validReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: om("web-5d8f"), Spec: appsv1.ReplicaSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: podTemplate(),
	}}
}

func validStatefulSet() *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: om("db"), Spec: appsv1.StatefulSetSpec{
		ServiceName: "db",
		Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template:    podTemplate(),
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: om("data"),
			Spec:       validPVC().Spec,
		}},
	}}
}

func validDaemonSet() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: om("agent"), Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}}}},
		Template: podTemplate(),
	}}
}

func validJob() *batchv1.Job {
	t := podTemplate()
	t.Spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{ObjectMeta: om("pi"), Spec: batchv1.JobSpec{Template: t}}
}

func validCronJob() *batchv1.CronJob {
	t := podTemplate()
	t.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	return &batchv1.CronJob{ObjectMeta: om("hello"), Spec: batchv1.CronJobSpec{
		Schedule:    "*/5 * * * *",
		TimeZone:    ptr.To("Europe/Berlin"),
		JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: t}},
	}}
}

func validService() *corev1.Service {
	return &corev1.Service{ObjectMeta: om("web"), Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"},
		Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
			{Name: "https", Port: 443},
		},
	}}
}

func validPVC() *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: om("data"), Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
}

// validObjects has one valid object of every served kind, by kind name.
func validObjects() map[string]runtime.Object {
	pathPrefix := networkingv1.PathTypePrefix
	return map[string]runtime.Object{
		"Namespace": &corev1.Namespace{ObjectMeta: om("team-a")},
		"Node": &corev1.Node{ObjectMeta: om("node-1.example.com"), Spec: corev1.NodeSpec{
			PodCIDR: "10.244.1.0/24",
			Taints:  []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}},
		}},
		"Pod":     validPod(),
		"Service": validService(),
		"Endpoints": &corev1.Endpoints{ObjectMeta: om("web"), Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.244.1.5"}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080}, {Name: "https", Port: 8443}},
		}}},
		"ConfigMap": &corev1.ConfigMap{ObjectMeta: om("kube-root-ca.crt"), Data: map[string]string{"ca.crt": "-----BEGIN CERTIFICATE-----"}},
		"Secret": &corev1.Secret{ObjectMeta: om("tls"), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}},
		"ServiceAccount": &corev1.ServiceAccount{ObjectMeta: om("default")},
		"Event": &corev1.Event{ObjectMeta: om("web-0.17a9b2c3d4e5f6a7"),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: testNS, Name: "web-0"}, Reason: "Scheduled", Type: corev1.EventTypeNormal},
		"PersistentVolumeClaim": validPVC(),
		"PersistentVolume": &corev1.PersistentVolume{ObjectMeta: om("pv-1"), Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/pv-1"}},
		}},
		"LimitRange": &corev1.LimitRange{ObjectMeta: om("limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer,
			Max:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			Min:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")},
		}}}},
		"ResourceQuota": &corev1.ResourceQuota{ObjectMeta: om("quota"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceRequestsCPU: resource.MustParse("4"), "count/deployments.apps": resource.MustParse("5"),
		}}},
		"Deployment":  validDeployment(),
		"ReplicaSet":  validReplicaSet(),
		"StatefulSet": validStatefulSet(),
		"DaemonSet":   validDaemonSet(),
		"ControllerRevision": &appsv1.ControllerRevision{ObjectMeta: om("db-7b9c"), Revision: 1,
			Data: runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}},
		"Job":     validJob(),
		"CronJob": validCronJob(),
		"Lease": &coordinationv1.Lease{ObjectMeta: om("node-1"), Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To("node-1"), LeaseDurationSeconds: ptr.To[int32](40)}},
		"EndpointSlice": &discoveryv1.EndpointSlice{ObjectMeta: om("web-abc12"), AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.5"}}},
			Ports:     []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}},
		"Ingress": &networkingv1.Ingress{ObjectMeta: om("web"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: "*.example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &pathPrefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Name: "http"}}},
			}}}},
		}}}},
		"NetworkPolicy": &networkingv1.NetworkPolicy{ObjectMeta: om("allow-web"), Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(80)), EndPort: ptr.To[int32](90)}},
			}},
		}},
		"PodDisruptionBudget": &policyv1.PodDisruptionBudget{ObjectMeta: om("web"), Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromString("50%")),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		}},
		"PriorityClass": &schedulingv1.PriorityClass{ObjectMeta: om("high"), Value: 1000000},
		"HorizontalPodAutoscaler": &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: om("web"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    3,
		}},
	}
}

// wantErr finds an error of the given type at the given field whose
// detail contains detail.
func wantErr(t *testing.T, errs field.ErrorList, typ field.ErrorType, path, detail string) {
	t.Helper()
	for _, e := range errs {
		if e.Type == typ && e.Field == path && strings.Contains(e.Detail, detail) {
			return
		}
	}
	t.Errorf("want %s at %s containing %q, got:\n%s", typ, path, detail, dump(errs))
}

func wantNoErr(t *testing.T, errs field.ErrorList) {
	t.Helper()
	if len(errs) > 0 {
		t.Errorf("want no errors, got:\n%s", dump(errs))
	}
}

func dump(errs field.ErrorList) string {
	if len(errs) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.Error() + "\n")
	}
	return b.String()
}

func kindNamed(t *testing.T, name string) kinds.Kind {
	t.Helper()
	for _, k := range kinds.All() {
		if k.Kind == name {
			return k
		}
	}
	t.Fatalf("no kind %s", name)
	return kinds.Kind{}
}
