package admission

import (
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events/kinds"
)

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestValidObjectsPass(t *testing.T) {
	objs := validObjects()
	for _, k := range kinds.All() {
		obj, ok := objs[k.Kind]
		if !ok {
			t.Errorf("no valid fixture for served kind %s", k.Kind)
			continue
		}
		t.Run(k.Kind, func(t *testing.T) {
			wantNoErr(t, admit(obj))
		})
	}
}

// Every served kind has a validator: an empty object gets field errors,
// never an "unsupported type" internal error, and nothing panics.
func TestEveryKindHandled(t *testing.T) {
	for _, k := range kinds.All() {
		obj, err := scheme.Scheme.New(k.GVK())
		if err != nil {
			t.Fatalf("%s: %v", k.Kind, err)
		}
		Default(obj)
		errs := ValidateCreate(obj)
		wantErr(t, errs, field.ErrorTypeRequired, "metadata.name", "name or generateName is required")
		for _, e := range errs {
			if e.Type == field.ErrorTypeInternal {
				t.Errorf("%s: %v", k.Kind, e)
			}
		}
		errs = ValidateUpdate(obj, obj.DeepCopyObject())
		for _, e := range errs {
			if e.Type == field.ErrorTypeInternal {
				t.Errorf("%s update: %v", k.Kind, e)
			}
		}
	}
}

func TestValidateUnsupportedType(t *testing.T) {
	for _, obj := range []runtime.Object{nil, (*corev1.Pod)(nil), &metav1.Status{}, &corev1.PodList{}} {
		errs := ValidateCreate(obj)
		if len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal {
			t.Errorf("%T: want one internal error, got %v", obj, errs)
		}
	}
	if errs := ValidateUpdate(validPod(), validService()); len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal {
		t.Errorf("mixed types: want one internal error, got %v", errs)
	}
}

// rule is one validation rule and an object that breaks it.
type rule struct {
	name   string
	obj    runtime.Object
	typ    field.ErrorType
	field  string
	detail string
}

func pod(mut func(*corev1.Pod)) *corev1.Pod {
	p := validPod()
	mut(p)
	return p
}

func deploy(mut func(*appsv1.Deployment)) *appsv1.Deployment {
	d := validDeployment()
	mut(d)
	return d
}

func svc(mut func(*corev1.Service)) *corev1.Service {
	s := validService()
	mut(s)
	return s
}

func cronJob(mut func(*batchv1.CronJob)) *batchv1.CronJob {
	c := validCronJob()
	mut(c)
	return c
}

func TestValidateMetadata(t *testing.T) {
	big := strings.Repeat("x", 256*1024)
	runRules(t, []rule{
		{"name required", pod(func(p *corev1.Pod) { p.Name = "" }), field.ErrorTypeRequired, "metadata.name", "name or generateName is required"},
		{"name subdomain", pod(func(p *corev1.Pod) { p.Name = "Web_0" }), field.ErrorTypeInvalid, "metadata.name", "RFC 1123 subdomain"},
		{"namespace name is a label", &corev1.Namespace{ObjectMeta: om("team.a")}, field.ErrorTypeInvalid, "metadata.name", "must not contain dots"},
		{"service name is a label", svc(func(s *corev1.Service) { s.Name = "web.v1" }), field.ErrorTypeInvalid, "metadata.name", "must not contain dots"},
		{"service name too long", svc(func(s *corev1.Service) { s.Name = strings.Repeat("a", 64) }), field.ErrorTypeInvalid, "metadata.name", "must be no more than 63 characters"},
		{"cronjob name length", cronJob(func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 53) }), field.ErrorTypeInvalid, "metadata.name", "must be no more than 52 characters"},
		{"label key", pod(func(p *corev1.Pod) { p.Labels = map[string]string{"bad key": "v"} }), field.ErrorTypeInvalid, "metadata.labels", "name part must consist of"},
		{"label value", pod(func(p *corev1.Pod) { p.Labels = map[string]string{"app": "no spaces"} }), field.ErrorTypeInvalid, "metadata.labels", "a valid label must be an empty string"},
		{"annotation key", pod(func(p *corev1.Pod) { p.Annotations = map[string]string{"a/b/c": ""} }), field.ErrorTypeInvalid, "metadata.annotations", ""},
		{"annotations size", pod(func(p *corev1.Pod) { p.Annotations = map[string]string{"big": big} }), field.ErrorTypeTooLong, "metadata.annotations", ""},
		{"cluster-scoped with namespace", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: "default"}}, field.ErrorTypeForbidden, "metadata.namespace", "not allowed on this type"},
		{"namespace must be a label", pod(func(p *corev1.Pod) { p.Namespace = "Team_A" }), field.ErrorTypeInvalid, "metadata.namespace", "RFC 1123 label"},
		{"finalizer name", pod(func(p *corev1.Pod) { p.Finalizers = []string{"bad finalizer"} }), field.ErrorTypeInvalid, "metadata.finalizers", ""},
	})
	// A namespaced object needs its namespace (admit would fill it in).
	p := validPod()
	Default(p)
	wantErr(t, ValidateCreate(p), field.ErrorTypeRequired, "metadata.namespace", "")
}

func runRules(t *testing.T, rules []rule) {
	t.Helper()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			wantErr(t, admit(r.obj), r.typ, r.field, r.detail)
		})
	}
}

func TestValidatePod(t *testing.T) {
	c0 := "spec.containers[0]"
	runRules(t, []rule{
		{"containers required", pod(func(p *corev1.Pod) { p.Spec.Containers = nil }), field.ErrorTypeRequired, "spec.containers", ""},
		{"container name required", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" }), field.ErrorTypeRequired, c0 + ".name", ""},
		{"container name is a label", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Web" }), field.ErrorTypeInvalid, c0 + ".name", "RFC 1123 label"},
		{"container names unique", pod(func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0]) }), field.ErrorTypeDuplicate, "spec.containers[1].name", ""},
		{"unique across init containers", pod(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "web", Image: "busybox"}}
		}), field.ErrorTypeDuplicate, c0 + ".name", ""},
		{"image required", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }), field.ErrorTypeRequired, c0 + ".image", ""},
		{"image whitespace", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" }), field.ErrorTypeInvalid, c0 + ".image", "must not have leading or trailing whitespace"},
		{"containerPort required", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 }), field.ErrorTypeRequired, c0 + ".ports[0].containerPort", ""},
		{"containerPort range", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 }), field.ErrorTypeInvalid, c0 + ".ports[0].containerPort", "must be between 1 and 65535, inclusive"},
		{"hostPort range", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostPort = -1 }), field.ErrorTypeInvalid, c0 + ".ports[0].hostPort", "must be between 1 and 65535, inclusive"},
		{"port protocol", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "HTTP" }), field.ErrorTypeNotSupported, c0 + ".ports[0].protocol", `"SCTP", "TCP", "UDP"`},
		{"port names unique", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http", ContainerPort: 81})
		}), field.ErrorTypeDuplicate, c0 + ".ports[1].name", ""},
		{"port name syntax", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Name = "80" }), field.ErrorTypeInvalid, c0 + ".ports[0].name", "must contain at least one letter"},
		{"host ports unique", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 81, HostPort: 8080}}
		}), field.ErrorTypeDuplicate, c0 + ".ports[1].hostPort", ""},
		{"env name", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Name = "A=B" }), field.ErrorTypeInvalid, c0 + ".env[0].name", "printable ASCII characters other than '='"},
		{"env name required", pod(func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Name = "" }), field.ErrorTypeRequired, c0 + ".env[0].name", ""},
		{"env value and valueFrom", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[0].ValueFrom = &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}
		}), field.ErrorTypeInvalid, c0 + ".env[0].valueFrom", "may not be specified when `value` is not empty"},
		{"env fieldRef path", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[0] = corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.hostname"}}}
		}), field.ErrorTypeNotSupported, c0 + ".env[0].valueFrom.fieldRef.fieldPath", ""},
		{"env secret key", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[0] = corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "a/b"}}}
		}), field.ErrorTypeInvalid, c0 + ".env[0].valueFrom.secretKeyRef.key", "a valid config key"},
		{"volume names unique", pod(func(p *corev1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, p.Spec.Volumes[0]) }), field.ErrorTypeDuplicate, "spec.volumes[1].name", ""},
		{"volume name is a label", pod(func(p *corev1.Pod) { p.Spec.Volumes[0].Name = "Cache"; p.Spec.Containers[0].VolumeMounts = nil }), field.ErrorTypeInvalid, "spec.volumes[0].name", "RFC 1123 label"},
		{"volume one source", pod(func(p *corev1.Pod) { p.Spec.Volumes[0].HostPath = &corev1.HostPathVolumeSource{Path: "/tmp"} }), field.ErrorTypeForbidden, "spec.volumes[0].emptyDir", "may not specify more than 1 volume type"},
		{"volume source details", pod(func(p *corev1.Pod) {
			p.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{DefaultMode: ptr.To[int32](01000)}}
		}), field.ErrorTypeInvalid, "spec.volumes[0].configMap.defaultMode", "must be a number between 0 and 0777"},
		{"mount names a volume", pod(func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "nope" }), field.ErrorTypeNotFound, c0 + ".volumeMounts[0].name", ""},
		{"mount path required", pod(func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].MountPath = "" }), field.ErrorTypeRequired, c0 + ".volumeMounts[0].mountPath", ""},
		{"mount subPath", pod(func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].SubPath = "../etc" }), field.ErrorTypeInvalid, c0 + ".volumeMounts[0].subPath", "must not contain '..'"},
		{"quantity non-negative", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("-1Mi")
		}), field.ErrorTypeInvalid, c0 + ".resources.limits[memory]", "must be greater than or equal to 0"},
		{"requests <= limits", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("2")
		}), field.ErrorTypeInvalid, c0 + ".resources.requests[cpu]", "must be less than or equal to cpu limit of 1"},
		{"resource name", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits["gpu"] = resource.MustParse("1")
		}), field.ErrorTypeInvalid, c0 + ".resources.limits[gpu]", "must be a standard resource"},
		{"extended resource integer", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits["example.com/gpu"] = resource.MustParse("500m")
		}), field.ErrorTypeInvalid, c0 + ".resources.limits[example.com/gpu]", "must be an integer"},
		{"restartPolicy", pod(func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }), field.ErrorTypeNotSupported, "spec.restartPolicy", `"Always", "OnFailure", "Never"`},
		{"dnsPolicy", pod(func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }), field.ErrorTypeNotSupported, "spec.dnsPolicy", ""},
		{"dnsPolicy None needs dnsConfig", pod(func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }), field.ErrorTypeRequired, "spec.dnsConfig", "must provide `dnsConfig`"},
		{"imagePullPolicy", pod(func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = "Sometimes" }), field.ErrorTypeNotSupported, c0 + ".imagePullPolicy", ""},
		{"probe needs a handler", pod(func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe.HTTPGet = nil }), field.ErrorTypeRequired, c0 + ".readinessProbe", "must specify a handler type"},
		{"probe one handler", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}
		}), field.ErrorTypeForbidden, c0 + ".readinessProbe.tcpSocket", "may not specify more than 1 handler type"},
		{"probe port", pod(func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe.HTTPGet.Port = intstr.FromInt32(0) }), field.ErrorTypeInvalid, c0 + ".readinessProbe.httpGet.port", "must be between 1 and 65535"},
		{"liveness succeeds once", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, SuccessThreshold: 2}
		}), field.ErrorTypeInvalid, c0 + ".livenessProbe.successThreshold", "must be 1"},
		{"probe numbers", pod(func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe.PeriodSeconds = -1 }), field.ErrorTypeInvalid, c0 + ".readinessProbe.periodSeconds", "must be greater than or equal to 0"},
		{"exec command", pod(func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe.ProbeHandler = corev1.ProbeHandler{Exec: &corev1.ExecAction{}}
		}), field.ErrorTypeRequired, c0 + ".readinessProbe.exec.command", ""},
		{"init container probes", pod(func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox", LivenessProbe: p.Spec.Containers[0].ReadinessProbe}}
		}), field.ErrorTypeForbidden, "spec.initContainers[0].livenessProbe", "may not be set for init containers without restartPolicy=Always"},
		{"activeDeadlineSeconds", pod(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](0) }), field.ErrorTypeInvalid, "spec.activeDeadlineSeconds", "must be between 1 and 2147483647, inclusive"},
		{"nodeSelector", pod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "a b"} }), field.ErrorTypeInvalid, "spec.nodeSelector", ""},
		{"nodeName", pod(func(p *corev1.Pod) { p.Spec.NodeName = "Node_1" }), field.ErrorTypeInvalid, "spec.nodeName", ""},
		{"toleration operator", pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: "Maybe"}}
		}), field.ErrorTypeNotSupported, "spec.tolerations[0].operator", ""},
		{"toleration exists with value", pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		}), field.ErrorTypeInvalid, "spec.tolerations[0].operator", "value must be empty when `operator` is 'Exists'"},
		{"tolerationSeconds needs NoExecute", pod(func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To[int64](5)}}
		}), field.ErrorTypeInvalid, "spec.tolerations[0].effect", "effect must be 'NoExecute' when `tolerationSeconds` is set"},
		{"runAsUser", pod(func(p *corev1.Pod) { p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](-1)} }), field.ErrorTypeInvalid, "spec.securityContext.runAsUser", ""},
	})
}

func TestValidateWorkloads(t *testing.T) {
	rs := func(mut func(*appsv1.ReplicaSet)) *appsv1.ReplicaSet { r := validReplicaSet(); mut(r); return r }
	sts := func(mut func(*appsv1.StatefulSet)) *appsv1.StatefulSet { s := validStatefulSet(); mut(s); return s }
	ds := func(mut func(*appsv1.DaemonSet)) *appsv1.DaemonSet { d := validDaemonSet(); mut(d); return d }
	runRules(t, []rule{
		{"deployment selector required", deploy(func(d *appsv1.Deployment) { d.Spec.Selector = nil }), field.ErrorTypeRequired, "spec.selector", ""},
		{"deployment selector not empty", deploy(func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }), field.ErrorTypeInvalid, "spec.selector", "empty selector is invalid for deployment"},
		{"deployment selector matches template", deploy(func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} }),
			field.ErrorTypeInvalid, "spec.template.metadata.labels", "`selector` does not match template `labels`"},
		{"deployment selector syntax", deploy(func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}
		}), field.ErrorTypeInvalid, "spec.selector.matchExpressions[0].operator", ""},
		{"deployment replicas", deploy(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](-1) }), field.ErrorTypeInvalid, "spec.replicas", "must be greater than or equal to 0"},
		{"deployment template is a pod spec", deploy(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers = nil }), field.ErrorTypeRequired, "spec.template.spec.containers", ""},
		{"deployment template image", deploy(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" }), field.ErrorTypeRequired, "spec.template.spec.containers[0].image", ""},
		{"deployment template restartPolicy", deploy(func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }),
			field.ErrorTypeNotSupported, "spec.template.spec.restartPolicy", `supported values: "Always"`},
		{"deployment template deadline", deploy(func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](5) }),
			field.ErrorTypeForbidden, "spec.template.spec.activeDeadlineSeconds", "not Supported"},
		{"deployment strategy type", deploy(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }), field.ErrorTypeNotSupported, "spec.strategy.type", ""},
		{"recreate without rollingUpdate", deploy(func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}), field.ErrorTypeForbidden, "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"},
		{"maxSurge and maxUnavailable not both 0", deploy(func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(0)), MaxUnavailable: ptr.To(intstr.FromString("0%"))}
		}), field.ErrorTypeInvalid, "spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0"},
		{"maxUnavailable percent", deploy(func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromString("150%"))}
		}), field.ErrorTypeInvalid, "spec.strategy.rollingUpdate.maxUnavailable", "must not be greater than 100%"},
		{"maxSurge syntax", deploy(func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromString("ten"))}
		}), field.ErrorTypeInvalid, "spec.strategy.rollingUpdate.maxSurge", "a valid percent string"},
		{"progress deadline", deploy(func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 700 }), field.ErrorTypeInvalid, "spec.progressDeadlineSeconds", "must be greater than minReadySeconds"},
		{"replicaset selector required", rs(func(r *appsv1.ReplicaSet) { r.Spec.Selector = nil }), field.ErrorTypeRequired, "spec.selector", ""},
		{"replicaset replicas", rs(func(r *appsv1.ReplicaSet) { r.Spec.Replicas = ptr.To[int32](-3) }), field.ErrorTypeInvalid, "spec.replicas", ""},
		{"replicaset template", rs(func(r *appsv1.ReplicaSet) { r.Spec.Template.Labels = nil }), field.ErrorTypeInvalid, "spec.template.metadata.labels", "`selector` does not match template `labels`"},
		{"statefulset selector", sts(func(s *appsv1.StatefulSet) { s.Spec.Selector = &metav1.LabelSelector{} }), field.ErrorTypeInvalid, "spec.selector", "empty selector is invalid for statefulset"},
		{"statefulset podManagementPolicy", sts(func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" }), field.ErrorTypeInvalid, "spec.podManagementPolicy", "must be 'OrderedReady' or 'Parallel'"},
		{"statefulset updateStrategy", sts(func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = "Canary" }), field.ErrorTypeInvalid, "spec.updateStrategy", "must be 'RollingUpdate' or 'OnDelete'"},
		{"statefulset partition", sts(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](-1)}
		}), field.ErrorTypeInvalid, "spec.updateStrategy.rollingUpdate.partition", ""},
		{"statefulset claim template", sts(func(s *appsv1.StatefulSet) { s.Spec.VolumeClaimTemplates[0].Spec.AccessModes = nil }),
			field.ErrorTypeRequired, "spec.volumeClaimTemplates[0].spec.accessModes", "at least 1 access mode is required"},
		{"statefulset restartPolicy", sts(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }),
			field.ErrorTypeNotSupported, "spec.template.spec.restartPolicy", ""},
		{"daemonset selector required", ds(func(d *appsv1.DaemonSet) { d.Spec.Selector = nil }), field.ErrorTypeRequired, "spec.selector", ""},
		{"daemonset selector matches", ds(func(d *appsv1.DaemonSet) { d.Spec.Template.Labels = map[string]string{"app": "db"} }),
			field.ErrorTypeInvalid, "spec.template.metadata.labels", "`selector` does not match template `labels`"},
		{"daemonset both zero", ds(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(0))}
		}), field.ErrorTypeRequired, "spec.updateStrategy.rollingUpdate.maxUnavailable", "cannot be 0 when maxSurge is 0"},
		{"daemonset both set", ds(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(1))}
		}), field.ErrorTypeInvalid, "spec.updateStrategy.rollingUpdate.maxSurge", "may not be set when maxUnavailable is non-zero"},
		{"daemonset strategy type", ds(func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy.Type = "Surge" }), field.ErrorTypeNotSupported, "spec.updateStrategy.type", ""},
		{"controllerrevision data", &appsv1.ControllerRevision{ObjectMeta: om("r")}, field.ErrorTypeRequired, "data", "data is mandatory"},
	})
}

func TestValidateBatch(t *testing.T) {
	job := func(mut func(*batchv1.Job)) *batchv1.Job { j := validJob(); mut(j); return j }
	runRules(t, []rule{
		{"job restartPolicy unset", job(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" }),
			field.ErrorTypeRequired, "spec.template.spec.restartPolicy", `valid values: "OnFailure", "Never"`},
		{"job restartPolicy Always", job(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }),
			field.ErrorTypeRequired, "spec.template.spec.restartPolicy", `valid values: "OnFailure", "Never"`},
		{"job parallelism", job(func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](-1) }), field.ErrorTypeInvalid, "spec.parallelism", "must be greater than or equal to 0"},
		{"job completions", job(func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](-1) }), field.ErrorTypeInvalid, "spec.completions", "must be greater than or equal to 0"},
		{"job backoffLimit", job(func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](-1) }), field.ErrorTypeInvalid, "spec.backoffLimit", "must be greater than or equal to 0"},
		{"job completionMode", job(func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To[batchv1.CompletionMode]("Ordered") }), field.ErrorTypeNotSupported, "spec.completionMode", ""},
		{"indexed job needs completions", job(func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Parallelism = ptr.To[int32](2)
		}), field.ErrorTypeRequired, "spec.completions", "when completion mode is Indexed"},
		{"job template", job(func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Name = "" }), field.ErrorTypeRequired, "spec.template.spec.containers[0].name", ""},
		{"manual selector required", job(func(j *batchv1.Job) { j.Spec.ManualSelector = ptr.To(true) }), field.ErrorTypeRequired, "spec.selector", ""},
		{"manual selector matches", job(func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
		}), field.ErrorTypeInvalid, "spec.template.metadata.labels", "`selector` does not match template `labels`"},
		{"selector not generated", job(func(j *batchv1.Job) {
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		}), field.ErrorTypeInvalid, "spec.selector", "`selector` not auto-generated"},
		{"cron schedule required", cronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = "" }), field.ErrorTypeRequired, "spec.schedule", ""},
		{"cron schedule fields", cronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = "every minute" }), field.ErrorTypeInvalid, "spec.schedule", "expected exactly 5 fields, found 2: [every minute]"},
		{"cron schedule range", cronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = "61 * * * *" }), field.ErrorTypeInvalid, "spec.schedule", "end of range (61) above maximum (59): 61"},
		{"cron descriptor", cronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = "@fortnightly" }), field.ErrorTypeInvalid, "spec.schedule", "unrecognized descriptor: @fortnightly"},
		{"cron TZ in schedule", cronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = "CRON_TZ=UTC 0 * * * *" }), field.ErrorTypeInvalid, "spec.schedule", "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"},
		{"cron timeZone unknown", cronJob(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Mars/Olympus_Mons") }), field.ErrorTypeInvalid, "spec.timeZone", "unknown time zone"},
		{"cron timeZone Local", cronJob(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Local") }), field.ErrorTypeInvalid, "spec.timeZone", "explicit time zone"},
		{"cron timeZone empty", cronJob(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("") }), field.ErrorTypeInvalid, "spec.timeZone", "timeZone must be nil or non-empty string"},
		{"cron concurrencyPolicy", cronJob(func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Sometimes" }), field.ErrorTypeNotSupported, "spec.concurrencyPolicy", ""},
		{"cron history limit", cronJob(func(c *batchv1.CronJob) { c.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](-1) }), field.ErrorTypeInvalid, "spec.successfulJobsHistoryLimit", ""},
		{"cron job template restartPolicy", cronJob(func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "" }),
			field.ErrorTypeRequired, "spec.jobTemplate.spec.template.spec.restartPolicy", ""},
		{"cron job template selector", cronJob(func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{} }),
			field.ErrorTypeInvalid, "spec.jobTemplate.spec.selector", "`selector` will be auto-generated"},
	})
	for _, s := range []string{"@hourly", "@daily", "@every 1h30m", "0 0 1 jan,jul *", "*/15 0-6 1,15 JAN-MAR mon-fri", "0 9 * * 1-5", "5 4 ? * SUN"} {
		if errs := admit(cronJob(func(c *batchv1.CronJob) { c.Spec.Schedule = s })); len(errs) > 0 {
			t.Errorf("schedule %q: %s", s, dump(errs))
		}
	}
}

func TestValidateService(t *testing.T) {
	runRules(t, []rule{
		{"ports required", svc(func(s *corev1.Service) { s.Spec.Ports = nil }), field.ErrorTypeRequired, "spec.ports", ""},
		{"port range", svc(func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }), field.ErrorTypeInvalid, "spec.ports[0].port", "must be between 1 and 65535, inclusive"},
		{"port names required when many", svc(func(s *corev1.Service) { s.Spec.Ports[1].Name = "" }), field.ErrorTypeRequired, "spec.ports[1].name", ""},
		{"port names unique", svc(func(s *corev1.Service) { s.Spec.Ports[1].Name = "http" }), field.ErrorTypeDuplicate, "spec.ports[1].name", ""},
		{"port name is a label", svc(func(s *corev1.Service) { s.Spec.Ports[0].Name = "HTTP" }), field.ErrorTypeInvalid, "spec.ports[0].name", "RFC 1123 label"},
		{"port and protocol unique", svc(func(s *corev1.Service) { s.Spec.Ports[1].Port = 80 }), field.ErrorTypeDuplicate, "spec.ports[1]", ""},
		{"port protocol", svc(func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" }), field.ErrorTypeNotSupported, "spec.ports[0].protocol", ""},
		{"targetPort", svc(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(70000) }), field.ErrorTypeInvalid, "spec.ports[0].targetPort", ""},
		{"nodePort range", svc(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort; s.Spec.Ports[0].NodePort = 8080 }),
			field.ErrorTypeInvalid, "spec.ports[0].nodePort", "The range of valid ports is 30000-32767"},
		{"nodePort on ClusterIP", svc(func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }), field.ErrorTypeForbidden, "spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'"},
		{"nodePorts unique", svc(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort, s.Spec.Ports[1].NodePort = 30080, 30080
		}), field.ErrorTypeDuplicate, "spec.ports[1].nodePort", ""},
		{"type", svc(func(s *corev1.Service) { s.Spec.Type = "Magic" }), field.ErrorTypeNotSupported, "spec.type", ""},
		{"selector", svc(func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "w e b"} }), field.ErrorTypeInvalid, "spec.selector", ""},
		{"externalName required", &corev1.Service{ObjectMeta: om("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName}},
			field.ErrorTypeRequired, "spec.externalName", ""},
		{"externalName subdomain", &corev1.Service{ObjectMeta: om("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db_1.example.com"}},
			field.ErrorTypeInvalid, "spec.externalName", "RFC 1123 subdomain"},
		{"externalName no clusterIP", &corev1.Service{ObjectMeta: om("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com", ClusterIP: "10.0.0.1"}},
			field.ErrorTypeForbidden, "spec.clusterIP", "may not be set for ExternalName services"},
		{"clusterIP", svc(func(s *corev1.Service) { s.Spec.ClusterIP = "10.0.0.300" }), field.ErrorTypeInvalid, "spec.clusterIPs[0]", "must be a valid IP address"},
		{"headless NodePort", svc(func(s *corev1.Service) { s.Spec.ClusterIP = "None"; s.Spec.Type = corev1.ServiceTypeNodePort }),
			field.ErrorTypeInvalid, "spec.clusterIPs[0]", "may not be set to 'None' for NodePort services"},
		{"sessionAffinity", svc(func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }), field.ErrorTypeNotSupported, "spec.sessionAffinity", ""},
		{"externalTrafficPolicy on ClusterIP", svc(func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
			field.ErrorTypeInvalid, "spec.externalTrafficPolicy", "may only be set for externally-accessible services"},
		{"endpoints address", &corev1.Endpoints{ObjectMeta: om("e"), Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "nope"}}}}},
			field.ErrorTypeInvalid, "subsets[0].addresses[0].ip", "must be a valid IP address"},
		{"endpoints port names", &corev1.Endpoints{ObjectMeta: om("e"), Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}},
			Ports: []corev1.EndpointPort{{Port: 1}, {Port: 2}}}}}, field.ErrorTypeRequired, "subsets[0].ports[0].name", ""},
		{"endpointslice addressType", &discoveryv1.EndpointSlice{ObjectMeta: om("s"), AddressType: "IPX"}, field.ErrorTypeNotSupported, "addressType", ""},
		{"endpointslice address family", &discoveryv1.EndpointSlice{ObjectMeta: om("s"), AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"fd00::1"}}}}, field.ErrorTypeInvalid, "endpoints[0].addresses[0]", "must be an IPv4 address"},
	})
	valid := []*corev1.Service{
		svc(func(s *corev1.Service) { s.Spec.Ports = nil; s.Spec.ClusterIP = "None" }),
		svc(func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.10" }),
		svc(func(s *corev1.Service) { s.Spec.Ports = s.Spec.Ports[:1]; s.Spec.Ports[0].Name = "" }),
		svc(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.Ports[0].NodePort = 30080
		}),
		{ObjectMeta: om("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com."}},
	}
	for i, s := range valid {
		if errs := admit(s); len(errs) > 0 {
			t.Errorf("valid service %d: %s", i, dump(errs))
		}
	}
}

func TestValidateConfigAndOthers(t *testing.T) {
	cm := func(data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: om("cfg"), Data: data}
	}
	runRules(t, []rule{
		{"configmap key", cm(map[string]string{"a/b": "x"}), field.ErrorTypeInvalid, "data[a/b]", "a valid config key must consist of alphanumeric characters"},
		{"configmap key dots", cm(map[string]string{"..": "x"}), field.ErrorTypeInvalid, "data[..]", "must not be '..'"},
		{"configmap size", cm(map[string]string{"big": strings.Repeat("x", 1<<20+1)}), field.ErrorTypeTooLong, "data", ""},
		{"configmap key in both", &corev1.ConfigMap{ObjectMeta: om("cfg"), Data: map[string]string{"k": "v"}, BinaryData: map[string][]byte{"k": nil}},
			field.ErrorTypeInvalid, "data[k]", "duplicate of key present in binaryData"},
		{"secret key", &corev1.Secret{ObjectMeta: om("s"), Data: map[string][]byte{"no space": nil}}, field.ErrorTypeInvalid, "data[no space]", "a valid config key"},
		{"secret size", &corev1.Secret{ObjectMeta: om("s"), StringData: map[string]string{"big": strings.Repeat("x", 1<<20+1)}}, field.ErrorTypeTooLong, "data", ""},
		{"tls secret", &corev1.Secret{ObjectMeta: om("s"), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil}}, field.ErrorTypeRequired, "data[tls.key]", ""},
		{"dockerconfigjson", &corev1.Secret{ObjectMeta: om("s"), Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte("{")}},
			field.ErrorTypeInvalid, "data[.dockerconfigjson]", ""},
		{"service account token", &corev1.Secret{ObjectMeta: om("s"), Type: corev1.SecretTypeServiceAccountToken}, field.ErrorTypeRequired, "metadata.annotations[kubernetes.io/service-account.name]", ""},
		{"namespace finalizer", &corev1.Namespace{ObjectMeta: om("ns"), Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"custom"}}},
			field.ErrorTypeInvalid, "spec.finalizers[0]", "name is neither a standard finalizer name nor is it fully qualified"},
		{"node taint effect", &corev1.Node{ObjectMeta: om("n"), Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k", Effect: "Sometimes"}}}},
			field.ErrorTypeNotSupported, "spec.taints[0].effect", ""},
		{"node taints unique", &corev1.Node{ObjectMeta: om("n"), Spec: corev1.NodeSpec{Taints: []corev1.Taint{
			{Key: "k", Effect: corev1.TaintEffectNoSchedule}, {Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule}}}},
			field.ErrorTypeDuplicate, "spec.taints[1]", "taints must be unique by key and effect pair"},
		{"node podCIDR", &corev1.Node{ObjectMeta: om("n"), Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/33"}}, field.ErrorTypeInvalid, "spec.podCIDRs[0]", ""},
		{"pvc access modes", &corev1.PersistentVolumeClaim{ObjectMeta: om("c"), Spec: corev1.PersistentVolumeClaimSpec{
			Resources: validPVC().Spec.Resources}}, field.ErrorTypeRequired, "spec.accessModes", "at least 1 access mode is required"},
		{"pvc storage", &corev1.PersistentVolumeClaim{ObjectMeta: om("c"), Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: validPVC().Spec.AccessModes}}, field.ErrorTypeRequired, "spec.resources[storage]", ""},
		{"pv capacity", &corev1.PersistentVolume{ObjectMeta: om("pv"), Spec: corev1.PersistentVolumeSpec{AccessModes: validPVC().Spec.AccessModes,
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}, field.ErrorTypeRequired, "spec.capacity", ""},
		{"pv source", &corev1.PersistentVolume{ObjectMeta: om("pv"), Spec: corev1.PersistentVolumeSpec{AccessModes: validPVC().Spec.AccessModes,
			Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}, field.ErrorTypeRequired, "spec", "must specify a volume type"},
		{"limitrange order", &corev1.LimitRange{ObjectMeta: om("l"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Min: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
			field.ErrorTypeInvalid, "spec.limits[0].min[cpu]", "min value 2 is greater than max value 1"},
		{"quota quantity", &corev1.ResourceQuota{ObjectMeta: om("q"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("-1")}}},
			field.ErrorTypeInvalid, "spec.hard[pods]", "must be greater than or equal to 0"},
		{"event namespace", &corev1.Event{ObjectMeta: om("e.1"), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "other", Name: "p"}},
			field.ErrorTypeInvalid, "involvedObject.namespace", "does not match event.namespace"},
		{"lease duration", &coordinationv1.Lease{ObjectMeta: om("l"), Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To[int32](0)}},
			field.ErrorTypeInvalid, "spec.leaseDurationSeconds", "must be greater than 0"},
		{"ingress needs rules or backend", &networkingv1.Ingress{ObjectMeta: om("i")}, field.ErrorTypeInvalid, "spec", "either `defaultBackend` or `rules` must be specified"},
		{"ingress pathType", &networkingv1.Ingress{ObjectMeta: om("i"), Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/",
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}},
			field.ErrorTypeRequired, "spec.rules[0].http.paths[0].pathType", "pathType must be specified"},
		{"networkpolicy peer", &networkingv1.NetworkPolicy{ObjectMeta: om("np"), Spec: networkingv1.NetworkPolicySpec{
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{}}}}}},
			field.ErrorTypeRequired, "spec.ingress[0].from[0]", "must specify a peer"},
		{"pdb both set", &policyv1.PodDisruptionBudget{ObjectMeta: om("p"), Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
			field.ErrorTypeInvalid, "spec", "minAvailable and maxUnavailable cannot be both set"},
		{"priorityclass value", &schedulingv1.PriorityClass{ObjectMeta: om("huge"), Value: 2000000000}, field.ErrorTypeForbidden, "value", "maximum allowed value of a user defined priority is 1000000000"},
		{"priorityclass system prefix", &schedulingv1.PriorityClass{ObjectMeta: om("system-mine"), Value: 1}, field.ErrorTypeForbidden, "metadata.name", "reserved for system use only"},
	})
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		kind, name string
		ok         bool
	}{
		{"Namespace", "team-a", true},
		{"Namespace", "team.a", false},
		{"Service", "web", true},
		{"Service", "web.v1", false},
		{"Service", "1web", true},
		{"ConfigMap", "kube-root-ca.crt", true},
		{"Node", "node-1.example.com", true},
		{"Node", "Node_1", false},
		{"Pod", "web-0", true},
		{"Pod", "", false},
		{"Deployment", strings.Repeat("a", 253), true},
		{"Deployment", strings.Repeat("a", 254), false},
		{"CronJob", strings.Repeat("a", 52), true},
		{"CronJob", strings.Repeat("a", 53), false},
		{"PriorityClass", "system-node-critical", true},
	}
	for _, tt := range tests {
		msgs := ValidateName(kindNamed(t, tt.kind), tt.name)
		if (len(msgs) == 0) != tt.ok {
			t.Errorf("ValidateName(%s, %q) = %v, want ok=%v", tt.kind, tt.name, msgs, tt.ok)
		}
	}
}
