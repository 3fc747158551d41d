package admission

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// check is one expectation about a defaulted object.
type check struct {
	what      string
	got, want any
}

func runChecks(t *testing.T, checks []check) {
	t.Helper()
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

// podSpecChecks are the PodSpec defaults every template gets.
func podSpecChecks(s *corev1.PodSpec, pullPolicy corev1.PullPolicy) []check {
	c := &s.Containers[0]
	return []check{
		{"restartPolicy", s.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", s.DNSPolicy, corev1.DNSClusterFirst},
		{"terminationGracePeriodSeconds", s.TerminationGracePeriodSeconds, ptr.To[int64](30)},
		{"schedulerName", s.SchedulerName, "default-scheduler"},
		{"securityContext", s.SecurityContext, &corev1.PodSecurityContext{}},
		{"imagePullPolicy", c.ImagePullPolicy, pullPolicy},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"ports[0].protocol", c.Ports[0].Protocol, corev1.ProtocolTCP},
	}
}

func TestDefaultExamples(t *testing.T) {
	tests := []struct {
		file   string
		checks func(runtime.Object) []check
	}{
		{"nginx-deployment.yaml", func(o runtime.Object) []check {
			d := o.(*appsv1.Deployment)
			return append([]check{
				{"replicas (given)", d.Spec.Replicas, ptr.To[int32](3)},
				{"strategy.type", d.Spec.Strategy.Type, appsv1.RollingUpdateDeploymentStrategyType},
				{"maxSurge", d.Spec.Strategy.RollingUpdate.MaxSurge, ptr.To(intstr.FromString("25%"))},
				{"maxUnavailable", d.Spec.Strategy.RollingUpdate.MaxUnavailable, ptr.To(intstr.FromString("25%"))},
				{"revisionHistoryLimit", d.Spec.RevisionHistoryLimit, ptr.To[int32](10)},
				{"progressDeadlineSeconds", d.Spec.ProgressDeadlineSeconds, ptr.To[int32](600)},
				// Pod-only defaults stay out of templates, as upstream.
				{"template enableServiceLinks", d.Spec.Template.Spec.EnableServiceLinks, (*bool)(nil)},
				{"template priority", d.Spec.Template.Spec.Priority, (*int32)(nil)},
			}, podSpecChecks(&d.Spec.Template.Spec, corev1.PullIfNotPresent)...)
		}},
		{"example-service.yaml", func(o runtime.Object) []check {
			s := o.(*corev1.Service)
			return []check{
				{"type (given)", s.Spec.Type, corev1.ServiceTypeLoadBalancer},
				{"ports[0].protocol", s.Spec.Ports[0].Protocol, corev1.ProtocolTCP},
				{"ports[0].targetPort (given)", s.Spec.Ports[0].TargetPort, intstr.FromInt32(9376)},
				{"sessionAffinity", s.Spec.SessionAffinity, corev1.ServiceAffinityNone},
				{"externalTrafficPolicy", s.Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster},
				{"internalTrafficPolicy", s.Spec.InternalTrafficPolicy, ptr.To(corev1.ServiceInternalTrafficPolicyCluster)},
				{"allocateLoadBalancerNodePorts", s.Spec.AllocateLoadBalancerNodePorts, ptr.To(true)},
				{"ipFamilyPolicy", s.Spec.IPFamilyPolicy, ptr.To(corev1.IPFamilyPolicySingleStack)},
				{"ipFamilies", s.Spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol}},
				{"clusterIP (not allocated here)", s.Spec.ClusterIP, ""},
				{"nodePort (not allocated here)", s.Spec.Ports[0].NodePort, int32(0)},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			obj := loadExample(t, tt.file)
			errs := admit(obj)
			wantNoErr(t, errs)
			runChecks(t, tt.checks(obj))
		})
	}
}

func TestDefaultEveryExampleIsValid(t *testing.T) {
	for _, f := range exampleFiles(t) {
		data := mustRead(t, f)
		obj := decodeYAML(t, data)
		if errs := admit(obj); len(errs) > 0 {
			t.Errorf("%s: %s", f, dump(errs))
		}
	}
}

func TestDefaultPod(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: om("p"), Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox@sha256:0123456789012345678901234567890123456789012345678901234567890123",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}},
		Containers: []corev1.Container{{
			Name: "app", Image: "nginx",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
			},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}},
			StartupProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 2},
			Env:           []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
		}},
		Volumes: []corev1.Volume{
			{Name: "scratch"},
			{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/log"}}},
			{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
		Tolerations: []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}},
	}}
	wantNoErr(t, admit(p))
	s := &p.Spec
	app, init := &s.Containers[0], &s.InitContainers[0]
	runChecks(t, append(podSpecChecks(s, corev1.PullAlways), []check{
		{"enableServiceLinks", s.EnableServiceLinks, ptr.To(true)},
		{"priority", s.Priority, ptr.To[int32](0)},
		{"preemptionPolicy", s.PreemptionPolicy, ptr.To(corev1.PreemptLowerPriority)},
		{"serviceAccountName", s.ServiceAccountName, "default"},
		{"serviceAccount", s.DeprecatedServiceAccount, "default"},
		{"tolerations untouched", s.Tolerations, []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}},
		{"init imagePullPolicy (digest)", init.ImagePullPolicy, corev1.PullIfNotPresent},
		{"init requests from limits", init.Resources.Requests, corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
		{"requests keep given cpu", app.Resources.Requests[corev1.ResourceCPU], resource.MustParse("500m")},
		{"requests memory from limit", app.Resources.Requests[corev1.ResourceMemory], resource.MustParse("1Gi")},
		{"liveness timeoutSeconds", app.LivenessProbe.TimeoutSeconds, int32(1)},
		{"liveness periodSeconds", app.LivenessProbe.PeriodSeconds, int32(10)},
		{"liveness successThreshold", app.LivenessProbe.SuccessThreshold, int32(1)},
		{"liveness failureThreshold", app.LivenessProbe.FailureThreshold, int32(3)},
		{"httpGet scheme", app.LivenessProbe.HTTPGet.Scheme, corev1.URISchemeHTTP},
		{"httpGet path", app.LivenessProbe.HTTPGet.Path, "/"},
		{"startup periodSeconds (given)", app.StartupProbe.PeriodSeconds, int32(2)},
		{"fieldRef apiVersion", app.Env[0].ValueFrom.FieldRef.APIVersion, "v1"},
		{"volume without source", s.Volumes[0].EmptyDir, &corev1.EmptyDirVolumeSource{}},
		{"configMap defaultMode", s.Volumes[1].ConfigMap.DefaultMode, ptr.To[int32](420)},
		{"secret defaultMode", s.Volumes[2].Secret.DefaultMode, ptr.To[int32](420)},
		{"hostPath type", s.Volumes[3].HostPath.Type, ptr.To(corev1.HostPathUnset)},
		{"emptyDir medium", s.Volumes[4].EmptyDir.Medium, corev1.StorageMediumDefault},
	}...))
}

func TestDefaultPullPolicy(t *testing.T) {
	tests := []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"nginx", corev1.PullAlways},
		{"nginx:latest", corev1.PullAlways},
		{"docker.io/library/nginx:latest", corev1.PullAlways},
		{"nginx:1.7.9", corev1.PullIfNotPresent},
		{"localhost:5000/app", corev1.PullAlways},
		{"localhost:5000/app:v2", corev1.PullIfNotPresent},
		{"nginx@sha256:0123456789012345678901234567890123456789012345678901234567890123", corev1.PullIfNotPresent},
		{"nginx:latest@sha256:0123456789012345678901234567890123456789012345678901234567890123", corev1.PullAlways},
		{"", corev1.PullIfNotPresent},
		{"Not A Reference", corev1.PullIfNotPresent},
	}
	for _, tt := range tests {
		if got := pullPolicy(tt.image); got != tt.want {
			t.Errorf("pullPolicy(%q) = %s, want %s", tt.image, got, tt.want)
		}
	}
	// A given policy is kept.
	c := corev1.Container{Image: "nginx", ImagePullPolicy: corev1.PullNever}
	defaultContainer(&c)
	if c.ImagePullPolicy != corev1.PullNever {
		t.Errorf("given imagePullPolicy overwritten: %s", c.ImagePullPolicy)
	}
}

func TestDefaultPodPriority(t *testing.T) {
	tests := []struct {
		class string
		given *int32
		want  *int32
	}{
		{"", nil, ptr.To[int32](0)},
		{"system-node-critical", nil, ptr.To[int32](2000001000)},
		{"system-cluster-critical", nil, ptr.To[int32](2000000000)},
		{"high", nil, nil}, // resolved by the caller, which can look it up
		{"", ptr.To[int32](7), ptr.To[int32](7)},
	}
	for _, tt := range tests {
		p := validPod()
		p.Spec.PriorityClassName, p.Spec.Priority = tt.class, tt.given
		Default(p)
		if !reflect.DeepEqual(p.Spec.Priority, tt.want) {
			t.Errorf("class %q: priority %v, want %v", tt.class, p.Spec.Priority, tt.want)
		}
	}
}

func TestDefaultHostNetworkPorts(t *testing.T) {
	p := validPod()
	p.Spec.HostNetwork = true
	wantNoErr(t, admit(p))
	if got := p.Spec.Containers[0].Ports[0].HostPort; got != 80 {
		t.Errorf("hostPort = %d, want 80", got)
	}
}

func TestDefaultWorkloads(t *testing.T) {
	uid := "4f1c2d3e-0000-4000-8000-000000000001"
	tests := []struct {
		name   string
		obj    runtime.Object
		checks func(runtime.Object) []check
	}{
		{"ReplicaSet", validReplicaSet(), func(o runtime.Object) []check {
			rs := o.(*appsv1.ReplicaSet)
			return append([]check{{"replicas", rs.Spec.Replicas, ptr.To[int32](1)}},
				podSpecChecks(&rs.Spec.Template.Spec, corev1.PullIfNotPresent)...)
		}},
		{"StatefulSet", validStatefulSet(), func(o runtime.Object) []check {
			s := o.(*appsv1.StatefulSet)
			return append([]check{
				{"replicas", s.Spec.Replicas, ptr.To[int32](1)},
				{"podManagementPolicy", s.Spec.PodManagementPolicy, appsv1.OrderedReadyPodManagement},
				{"updateStrategy.type", s.Spec.UpdateStrategy.Type, appsv1.RollingUpdateStatefulSetStrategyType},
				{"partition", s.Spec.UpdateStrategy.RollingUpdate.Partition, ptr.To[int32](0)},
				{"revisionHistoryLimit", s.Spec.RevisionHistoryLimit, ptr.To[int32](10)},
				{"pvcRetention", s.Spec.PersistentVolumeClaimRetentionPolicy, &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
					WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType}},
				{"claim template volumeMode", s.Spec.VolumeClaimTemplates[0].Spec.VolumeMode, ptr.To(corev1.PersistentVolumeFilesystem)},
			}, podSpecChecks(&s.Spec.Template.Spec, corev1.PullIfNotPresent)...)
		}},
		{"DaemonSet", validDaemonSet(), func(o runtime.Object) []check {
			ds := o.(*appsv1.DaemonSet)
			return append([]check{
				{"updateStrategy.type", ds.Spec.UpdateStrategy.Type, appsv1.RollingUpdateDaemonSetStrategyType},
				{"maxUnavailable", ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable, ptr.To(intstr.FromInt32(1))},
				{"maxSurge", ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge, ptr.To(intstr.FromInt32(0))},
				{"revisionHistoryLimit", ds.Spec.RevisionHistoryLimit, ptr.To[int32](10)},
			}, podSpecChecks(&ds.Spec.Template.Spec, corev1.PullIfNotPresent)...)
		}},
		{"Job", func() runtime.Object { j := validJob(); j.UID = "4f1c2d3e-0000-4000-8000-000000000001"; return j }(), func(o runtime.Object) []check {
			j := o.(*batchv1.Job)
			return []check{
				{"parallelism", j.Spec.Parallelism, ptr.To[int32](1)},
				{"completions", j.Spec.Completions, ptr.To[int32](1)},
				{"backoffLimit", j.Spec.BackoffLimit, ptr.To[int32](6)},
				{"completionMode", j.Spec.CompletionMode, ptr.To(batchv1.NonIndexedCompletion)},
				{"suspend", j.Spec.Suspend, ptr.To(false)},
				{"manualSelector", j.Spec.ManualSelector, (*bool)(nil)},
				{"podReplacementPolicy", j.Spec.PodReplacementPolicy, ptr.To(batchv1.TerminatingOrFailed)},
				{"template restartPolicy (given)", j.Spec.Template.Spec.RestartPolicy, corev1.RestartPolicyNever},
				{"selector", j.Spec.Selector, &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: uid}}},
				{"pod label controller-uid", j.Spec.Template.Labels[batchv1.ControllerUidLabel], uid},
				{"pod label job-name", j.Spec.Template.Labels[batchv1.JobNameLabel], "pi"},
				{"pod label kept", j.Spec.Template.Labels["app"], "web"},
				{"job labels from template", j.Labels["app"], "web"},
			}
		}},
		{"Job parallel", &batchv1.Job{ObjectMeta: om("par"), Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](3), Template: validJob().Spec.Template}}, func(o runtime.Object) []check {
			j := o.(*batchv1.Job)
			return []check{
				{"parallelism (given)", j.Spec.Parallelism, ptr.To[int32](3)},
				{"completions stays unset", j.Spec.Completions, (*int32)(nil)},
			}
		}},
		{"CronJob", validCronJob(), func(o runtime.Object) []check {
			c := o.(*batchv1.CronJob)
			return append([]check{
				{"concurrencyPolicy", c.Spec.ConcurrencyPolicy, batchv1.AllowConcurrent},
				{"suspend", c.Spec.Suspend, ptr.To(false)},
				{"successfulJobsHistoryLimit", c.Spec.SuccessfulJobsHistoryLimit, ptr.To[int32](3)},
				{"failedJobsHistoryLimit", c.Spec.FailedJobsHistoryLimit, ptr.To[int32](1)},
				{"jobTemplate restartPolicy (given)", c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy, corev1.RestartPolicyOnFailure},
			}, podSpecChecks(&c.Spec.JobTemplate.Spec.Template.Spec, corev1.PullIfNotPresent)[1:]...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNoErr(t, admit(tt.obj))
			runChecks(t, tt.checks(tt.obj))
		})
	}
}

func TestDefaultCoreObjects(t *testing.T) {
	tests := []struct {
		name   string
		obj    runtime.Object
		checks func(runtime.Object) []check
	}{
		{"Service NodePort", &corev1.Service{ObjectMeta: om("np"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
			Ports: []corev1.ServicePort{{Port: 80}}}}, func(o runtime.Object) []check {
			s := o.(*corev1.Service)
			return []check{
				{"targetPort = port", s.Spec.Ports[0].TargetPort, intstr.FromInt32(80)},
				{"externalTrafficPolicy", s.Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicyCluster},
				{"allocateLoadBalancerNodePorts", s.Spec.AllocateLoadBalancerNodePorts, (*bool)(nil)},
			}
		}},
		{"Service ClusterIP", &corev1.Service{ObjectMeta: om("cip"), Spec: corev1.ServiceSpec{ClusterIP: "None",
			Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}}}}, func(o runtime.Object) []check {
			s := o.(*corev1.Service)
			return []check{
				{"type", s.Spec.Type, corev1.ServiceTypeClusterIP},
				{"protocol (given)", s.Spec.Ports[0].Protocol, corev1.ProtocolUDP},
				{"externalTrafficPolicy unset", s.Spec.ExternalTrafficPolicy, corev1.ServiceExternalTrafficPolicy("")},
				{"clusterIPs mirrors clusterIP", s.Spec.ClusterIPs, []string{"None"}},
			}
		}},
		{"Service ClientIP", &corev1.Service{ObjectMeta: om("aff"), Spec: corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP,
			Ports: []corev1.ServicePort{{Port: 80}}}}, func(o runtime.Object) []check {
			s := o.(*corev1.Service)
			return []check{{"affinity timeout", s.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds, ptr.To[int32](10800)}}
		}},
		{"Service ExternalName", &corev1.Service{ObjectMeta: om("ext"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName,
			ExternalName: "db.example.com"}}, func(o runtime.Object) []check {
			s := o.(*corev1.Service)
			return []check{
				{"no ipFamilies", s.Spec.IPFamilies, []corev1.IPFamily(nil)},
				{"no internalTrafficPolicy", s.Spec.InternalTrafficPolicy, (*corev1.ServiceInternalTrafficPolicy)(nil)},
			}
		}},
		{"Secret", &corev1.Secret{ObjectMeta: om("s"), StringData: map[string]string{"password": "hunter2"},
			Data: map[string][]byte{"user": []byte("admin")}}, func(o runtime.Object) []check {
			s := o.(*corev1.Secret)
			return []check{
				{"type", s.Type, corev1.SecretTypeOpaque},
				{"stringData folded into data", s.Data, map[string][]byte{"user": []byte("admin"), "password": []byte("hunter2")}},
				{"stringData cleared", s.StringData, map[string]string(nil)},
			}
		}},
		{"Namespace", &corev1.Namespace{ObjectMeta: om("team-a")}, func(o runtime.Object) []check {
			ns := o.(*corev1.Namespace)
			return []check{
				{"finalizers", ns.Spec.Finalizers, []corev1.FinalizerName{corev1.FinalizerKubernetes}},
				{"phase", ns.Status.Phase, corev1.NamespaceActive},
				{"name label", ns.Labels[corev1.LabelMetadataName], "team-a"},
			}
		}},
		{"Endpoints", &corev1.Endpoints{ObjectMeta: om("web"), Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}}, func(o runtime.Object) []check {
			return []check{{"port protocol", o.(*corev1.Endpoints).Subsets[0].Ports[0].Protocol, corev1.ProtocolTCP}}
		}},
		{"EndpointSlice", &discoveryv1.EndpointSlice{ObjectMeta: om("web-x"), AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}}}, func(o runtime.Object) []check {
			p := o.(*discoveryv1.EndpointSlice).Ports[0]
			return []check{{"port protocol", p.Protocol, ptr.To(corev1.ProtocolTCP)}, {"port name", p.Name, ptr.To("")}}
		}},
		{"PersistentVolumeClaim", validPVC(), func(o runtime.Object) []check {
			c := o.(*corev1.PersistentVolumeClaim)
			return []check{{"volumeMode", c.Spec.VolumeMode, ptr.To(corev1.PersistentVolumeFilesystem)}, {"phase", c.Status.Phase, corev1.ClaimPending}}
		}},
		{"PriorityClass", &schedulingv1.PriorityClass{ObjectMeta: om("high"), Value: 10}, func(o runtime.Object) []check {
			return []check{{"preemptionPolicy", o.(*schedulingv1.PriorityClass).PreemptionPolicy, ptr.To(corev1.PreemptLowerPriority)}}
		}},
		{"NetworkPolicy", &networkingv1.NetworkPolicy{ObjectMeta: om("np"), Spec: networkingv1.NetworkPolicySpec{
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(53))}}}}}}, func(o runtime.Object) []check {
			np := o.(*networkingv1.NetworkPolicy)
			return []check{
				{"policyTypes", np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}},
				{"port protocol", np.Spec.Egress[0].Ports[0].Protocol, ptr.To(corev1.ProtocolTCP)},
			}
		}},
		{"Node", &corev1.Node{ObjectMeta: om("n1"), Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}}, func(o runtime.Object) []check {
			n := o.(*corev1.Node)
			return []check{{"allocatable from capacity", n.Status.Allocatable, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantNoErr(t, admit(tt.obj))
			runChecks(t, tt.checks(tt.obj))
		})
	}
}

// Defaulting twice changes nothing: the gateway may default an object it
// has already defaulted (updates, retries).
func TestDefaultIdempotent(t *testing.T) {
	for name, obj := range validObjects() {
		prepare(obj)
		Default(obj)
		again := obj.DeepCopyObject()
		Default(again)
		if !reflect.DeepEqual(obj, again) {
			t.Errorf("%s: second Default changed the object", name)
		}
	}
}

func TestDefaultNamespaceBeingDeleted(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gone", DeletionTimestamp: &testTime}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	Default(ns)
	if ns.Spec.Finalizers != nil {
		t.Errorf("finalizer given back to a namespace being deleted: %v", ns.Spec.Finalizers)
	}
}

func TestDefaultIgnoresUnknownAndNil(t *testing.T) {
	Default(nil)
	Default((*corev1.Pod)(nil))
	Default(&metav1.Status{})
}
