package tables

import (
	"reflect"
	"testing"
	"time"

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
)

var podTemplate = corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
	{Name: "app", Image: "nginx:1.27"}, {Name: "log", Image: "busybox"},
}}}

var webSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}

func svc(typ corev1.ServiceType, mutate func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: objMeta("web", time.Hour)}
	s.Spec.Type = typ
	s.Spec.ClusterIPs = []string{"10.96.0.10"}
	s.Spec.Ports = []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}
	if mutate != nil {
		mutate(s)
	}
	return s
}

func node(mutate func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", CreationTimestamp: ago(10 * 24 * time.Hour)}}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	n.Status.NodeInfo.KubeletVersion = "v1.37.2"
	if mutate != nil {
		mutate(n)
	}
	return n
}

func TestRows(t *testing.T) {
	tests := []struct {
		name string
		kind string
		obj  runtime.Object
		want []any
	}{
		{"deployment", "Deployment", &appsv1.Deployment{
			ObjectMeta: objMeta("web", 5*time.Minute),
			Spec:       appsv1.DeploymentSpec{Replicas: ptr[int32](3), Selector: webSelector, Template: podTemplate},
			Status:     appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2},
		}, []any{"web", "2/3", int64(3), int64(2), "5m", "app,log", "nginx:1.27,busybox", "app=web"}},
		{"replica set", "ReplicaSet", &appsv1.ReplicaSet{
			ObjectMeta: objMeta("web-7d4b9c", 2*time.Hour),
			Spec:       appsv1.ReplicaSetSpec{Replicas: ptr[int32](3), Selector: webSelector, Template: podTemplate},
			Status:     appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1},
		}, []any{"web-7d4b9c", int64(3), int64(3), int64(1), "120m", "app,log", "nginx:1.27,busybox", "app=web"}},
		{"stateful set", "StatefulSet", &appsv1.StatefulSet{
			ObjectMeta: objMeta("db", 26*time.Hour),
			Spec:       appsv1.StatefulSetSpec{Replicas: ptr[int32](3), Template: podTemplate},
			Status:     appsv1.StatefulSetStatus{ReadyReplicas: 3},
		}, []any{"db", "3/3", "26h", "app,log", "nginx:1.27,busybox"}},
		{"daemon set", "DaemonSet", &appsv1.DaemonSet{
			ObjectMeta: objMeta("agent", 3*24*time.Hour+5*time.Hour),
			Spec: appsv1.DaemonSetSpec{Selector: webSelector, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				NodeSelector: map[string]string{"kubernetes.io/os": "linux"}, Containers: podTemplate.Spec.Containers,
			}}},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, NumberReady: 2, UpdatedNumberScheduled: 3, NumberAvailable: 2},
		}, []any{"agent", int64(3), int64(3), int64(2), int64(3), int64(2), "kubernetes.io/os=linux", "3d5h", "app,log", "nginx:1.27,busybox", "app=web"}},
		{"daemon set without node selector", "DaemonSet", &appsv1.DaemonSet{ObjectMeta: objMeta("agent", time.Minute)},
			[]any{"agent", int64(0), int64(0), int64(0), int64(0), int64(0), "<none>", "60s", "", "", "<none>"}},
		{"controller revision", "ControllerRevision", &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: "db-5d8f7", CreationTimestamp: ago(time.Hour), OwnerReferences: []metav1.OwnerReference{
				{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db", Controller: ptr(true)},
			}},
			Revision: 2,
		}, []any{"db-5d8f7", "statefulset.apps/db", int64(2), "60m"}},
		{"controller revision without controller", "ControllerRevision", &appsv1.ControllerRevision{ObjectMeta: objMeta("r", time.Hour), Revision: 1},
			[]any{"r", "<none>", int64(1), "60m"}},
		{"job running", "Job", &batchv1.Job{
			ObjectMeta: objMeta("pi", 3*time.Minute),
			Spec:       batchv1.JobSpec{Completions: ptr[int32](1), Selector: webSelector, Template: podTemplate},
			Status:     batchv1.JobStatus{StartTime: agoPtr(3 * time.Minute)},
		}, []any{"pi", "Running", "0/1", "3m", "3m", "app,log", "nginx:1.27,busybox", "app=web"}},
		{"job complete", "Job", &batchv1.Job{
			ObjectMeta: objMeta("pi", time.Hour),
			Spec:       batchv1.JobSpec{Completions: ptr[int32](5)},
			Status: batchv1.JobStatus{Succeeded: 5, StartTime: agoPtr(time.Hour), CompletionTime: agoPtr(time.Hour - 47*time.Second),
				Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}},
		}, []any{"pi", "Complete", "5/5", "47s", "60m", "", "", "<none>"}},
		{"job failed, parallel without completions", "Job", &batchv1.Job{
			ObjectMeta: objMeta("work", time.Hour),
			Spec:       batchv1.JobSpec{Parallelism: ptr[int32](4)},
			Status:     batchv1.JobStatus{Succeeded: 1, Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}}},
		}, []any{"work", "Failed", "1/1 of 4", "", "60m", "", "", "<none>"}},
		{"job suspended", "Job", &batchv1.Job{
			ObjectMeta: objMeta("s", time.Hour),
			Status:     batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}},
		}, []any{"s", "Suspended", "0/1", "", "60m", "", "", "<none>"}},
		{"job terminating", "Job", &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "t", CreationTimestamp: ago(time.Hour), DeletionTimestamp: agoPtr(time.Second)},
			Status:     batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}},
		}, []any{"t", "Terminating", "0/1", "", "60m", "", "", "<none>"}},
		{"job failure target", "Job", &batchv1.Job{
			ObjectMeta: objMeta("f", time.Hour),
			Status:     batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue}}},
		}, []any{"f", "FailureTarget", "0/1", "", "60m", "", "", "<none>"}},
		{"cron job", "CronJob", &batchv1.CronJob{
			ObjectMeta: objMeta("hello", 2*24*time.Hour),
			Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", TimeZone: ptr("Etc/UTC"), Suspend: ptr(false),
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: podTemplate}}},
			Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "hello-1"}}, LastScheduleTime: agoPtr(75 * time.Second)},
		}, []any{"hello", "*/5 * * * *", "Etc/UTC", "False", int64(1), "75s", "2d", "app,log", "nginx:1.27,busybox", "<none>"}},
		{"cron job never scheduled", "CronJob", &batchv1.CronJob{
			ObjectMeta: objMeta("hello", time.Minute),
			Spec:       batchv1.CronJobSpec{Schedule: "@hourly"},
		}, []any{"hello", "@hourly", "<none>", "<unset>", int64(0), "<none>", "60s", "", "", "<none>"}},
		{"cluster IP service", "Service", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.Selector = map[string]string{"app": "web", "tier": "front"}
		}), []any{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "60m", "app=web,tier=front"}},
		{"headless service", "Service", svc(corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
			s.Spec.ClusterIPs = []string{"None"}
			s.Spec.Ports = nil
		}), []any{"web", "ClusterIP", "None", "<none>", "<none>", "60m", "<none>"}},
		{"node port with external IPs", "Service", svc(corev1.ServiceTypeNodePort, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}, {Port: 53, Protocol: corev1.ProtocolUDP}}
			s.Spec.ExternalIPs = []string{"192.0.2.1", "192.0.2.2"}
		}), []any{"web", "NodePort", "10.96.0.10", "192.0.2.1,192.0.2.2", "80:30080/TCP,53/UDP", "60m", "<none>"}},
		{"load balancer pending", "Service", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}, {Port: 443, NodePort: 30443, Protocol: corev1.ProtocolTCP}}
		}), []any{"web", "LoadBalancer", "10.96.0.10", "<pending>", "80:30080/TCP,443:30443/TCP", "60m", "<none>"}},
		{"load balancer with ingress", "Service", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.9"}, {Hostname: "lb.example.com"}, {IP: "203.0.113.9"}}
			s.Spec.ExternalIPs = []string{"192.0.2.1"}
		}), []any{"web", "LoadBalancer", "10.96.0.10", "203.0.113.9,lb.example.com,192.0.2.1", "80/TCP", "60m", "<none>"}},
		{"external name", "Service", svc(corev1.ServiceTypeExternalName, func(s *corev1.Service) {
			s.Spec.ClusterIPs = nil
			s.Spec.ExternalName = "db.example.com"
			s.Spec.Ports = nil
		}), []any{"web", "ExternalName", "<none>", "db.example.com", "<none>", "60m", "<none>"}},
		{"ready node", "Node", node(func(n *corev1.Node) {
			n.Labels = map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": "", "kubernetes.io/role": "etcd"}
			n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "node-1"}, {Type: corev1.NodeInternalIP, Address: "172.18.0.2"}}
			n.Status.NodeInfo.OSImage, n.Status.NodeInfo.KernelVersion, n.Status.NodeInfo.ContainerRuntimeVersion = "Debian GNU/Linux 12 (bookworm)", "6.8.0", "wake://0.1.0"
		}), []any{"node-1", "Ready", "control-plane,etcd", "10d", "v1.37.2", "172.18.0.2", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.8.0", "wake://0.1.0"}},
		{"cordoned not-ready node", "Node", node(func(n *corev1.Node) {
			n.Spec.Unschedulable = true
			n.Status.Conditions[0].Status = corev1.ConditionUnknown
		}), []any{"node-1", "NotReady,SchedulingDisabled", "<none>", "10d", "v1.37.2", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
		{"node without conditions", "Node", node(func(n *corev1.Node) { n.Status.Conditions = nil }),
			[]any{"node-1", "Unknown", "<none>", "10d", "v1.37.2", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}},
		{"namespace", "Namespace", &corev1.Namespace{ObjectMeta: objMeta("team", 400*24*time.Hour), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}},
			[]any{"team", "Terminating", "400d"}},
		{"config map", "ConfigMap", &corev1.ConfigMap{ObjectMeta: objMeta("cfg", 3*365*24*time.Hour), Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": nil}},
			[]any{"cfg", int64(2), "3y"}},
		{"secret", "Secret", &corev1.Secret{ObjectMeta: objMeta("tls", time.Hour), Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}},
			[]any{"tls", "kubernetes.io/tls", int64(2), "60m"}},
		{"service account", "ServiceAccount", &corev1.ServiceAccount{ObjectMeta: objMeta("default", time.Hour)},
			[]any{"default", int64(0), "60m"}},
		{"endpoints", "Endpoints", &corev1.Endpoints{ObjectMeta: objMeta("web", time.Hour), Subsets: []corev1.EndpointSubset{
			{Addresses: []corev1.EndpointAddress{{IP: "10.244.0.5"}, {IP: "10.244.0.6"}}, Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}}},
			{Addresses: []corev1.EndpointAddress{{IP: "fd00::1"}}, Ports: []corev1.EndpointPort{{Port: 80}}},
		}}, []any{"web", "10.244.0.5:80,10.244.0.6:80,10.244.0.5:443 + 2 more...", "60m"}},
		{"endpoints of a headless service without ports", "Endpoints", &corev1.Endpoints{ObjectMeta: objMeta("db", time.Hour), Subsets: []corev1.EndpointSubset{
			{Addresses: []corev1.EndpointAddress{{IP: "10.244.0.7"}}},
		}}, []any{"db", "10.244.0.7", "60m"}},
		{"endpoints without subsets", "Endpoints", &corev1.Endpoints{ObjectMeta: objMeta("none", time.Hour)},
			[]any{"none", "<none>", "60m"}},
		{"endpoint slice", "EndpointSlice", &discoveryv1.EndpointSlice{
			ObjectMeta:  objMeta("web-abc12", time.Hour),
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Port: ptr[int32](80)}, {Name: ptr("metrics")}, {}, {Port: ptr[int32](9000)}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{"10.244.0.5"}}, {Addresses: []string{"10.244.0.6"}}, {Addresses: []string{"10.244.0.7"}}, {Addresses: []string{"10.244.0.8"}},
			},
		}, []any{"web-abc12", "IPv4", "80,metrics,* + 1 more...", "10.244.0.5,10.244.0.6,10.244.0.7 + 1 more...", "60m"}},
		{"empty endpoint slice", "EndpointSlice", &discoveryv1.EndpointSlice{ObjectMeta: objMeta("e", time.Hour), AddressType: discoveryv1.AddressTypeIPv6},
			[]any{"e", "IPv6", "<unset>", "<unset>", "60m"}},
		{"event", "Event", &corev1.Event{
			ObjectMeta:     objMeta("web-1.17f", time.Hour),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1", FieldPath: "spec.containers{app}"},
			Reason:         "BackOff", Type: corev1.EventTypeWarning, Message: "Back-off restarting failed container\n",
			Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
			FirstTimestamp: ago(time.Hour), LastTimestamp: ago(2 * time.Minute), Count: 12,
		}, []any{"2m", "Warning", "BackOff", "pod/web-1", "spec.containers{app}", "kubelet, node-1", "Back-off restarting failed container", "60m", int64(12), "web-1.17f"}},
		{"events.k8s.io style event", "Event", &corev1.Event{
			ObjectMeta:     objMeta("e2", time.Hour),
			InvolvedObject: corev1.ObjectReference{Kind: "Node"},
			Reason:         "Starting", Type: corev1.EventTypeNormal,
			EventTime:           metav1.NewMicroTime(now.Add(-30 * time.Second)),
			ReportingController: "wake-scheduler",
		}, []any{"30s", "Normal", "Starting", "node", "", "wake-scheduler", "", "30s", int64(1), "e2"}},
		{"event series", "Event", &corev1.Event{
			ObjectMeta:     objMeta("e3", time.Hour),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p"},
			FirstTimestamp: ago(time.Hour), LastTimestamp: ago(time.Hour), Count: 1,
			Series: &corev1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(now.Add(-5 * time.Second))},
		}, []any{"5s", "", "", "pod/p", "", "", "", "60m", int64(7), "e3"}},
		{"lease", "Lease", &coordinationv1.Lease{ObjectMeta: objMeta("wake-scheduler", time.Hour), Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("gw-1_0c6e")}},
			[]any{"wake-scheduler", "gw-1_0c6e", "60m"}},
		{"lease without holder", "Lease", &coordinationv1.Lease{ObjectMeta: objMeta("l", time.Hour)},
			[]any{"l", "", "60m"}},
		{"priority class", "PriorityClass", &schedulingv1.PriorityClass{
			ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical", CreationTimestamp: ago(10 * 24 * time.Hour)},
			Value:      2000001000, PreemptionPolicy: ptr(corev1.PreemptLowerPriority),
		}, []any{"system-node-critical", int64(2000001000), false, "10d", "PreemptLowerPriority"}},
		{"pvc bound", "PersistentVolumeClaim", &corev1.PersistentVolumeClaim{
			ObjectMeta: objMeta("data", time.Hour),
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1", StorageClassName: ptr("standard"),
				Resources:  corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				VolumeMode: ptr(corev1.PersistentVolumeFilesystem)},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce},
				Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}},
		}, []any{"data", "Bound", "pv-1", "2Gi", "RWO,RWX", "standard", "<unset>", "60m", "Filesystem"}},
		{"pvc pending, beta class annotation", "PersistentVolumeClaim", &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "data", CreationTimestamp: ago(time.Hour), DeletionTimestamp: agoPtr(time.Second),
				Annotations: map[string]string{betaStorageClassAnnotation: "old"}},
			Spec:   corev1.PersistentVolumeClaimSpec{StorageClassName: ptr("standard")},
			Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
		}, []any{"data", "Terminating", "", "", "", "old", "<unset>", "60m", "<unset>"}},
		{"pv", "PersistentVolume", &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pv-1", CreationTimestamp: ago(time.Hour)},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadOnlyMany},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				ClaimRef:                      &corev1.ObjectReference{Namespace: "default", Name: "data"},
				StorageClassName:              "standard",
				VolumeAttributesClassName:     ptr("gold"),
				VolumeMode:                    ptr(corev1.PersistentVolumeBlock),
			},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
		}, []any{"pv-1", "10Gi", "ROX,RWOP", "Retain", "Bound", "default/data", "standard", "gold", "", "60m", "Block"}},
		{"ingress", "Ingress", &networkingv1.Ingress{
			ObjectMeta: objMeta("web", time.Hour),
			Spec: networkingv1.IngressSpec{IngressClassName: ptr("nginx"), TLS: []networkingv1.IngressTLS{{Hosts: []string{"a.example.com"}}},
				Rules: []networkingv1.IngressRule{{Host: "a.example.com"}, {}, {Host: "b.example.com"}, {Host: "c.example.com"}, {Host: "d.example.com"}}},
			Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "203.0.113.10"}, {Hostname: "lb.example.com"}}}},
		}, []any{"web", "nginx", "a.example.com,b.example.com,c.example.com + 2 more...", "203.0.113.10,lb.example.com", "80, 443", "60m"}},
		{"ingress without hosts", "Ingress", &networkingv1.Ingress{ObjectMeta: objMeta("any", time.Hour)},
			[]any{"any", "<none>", "*", "", "80", "60m"}},
		{"network policy", "NetworkPolicy", &networkingv1.NetworkPolicy{ObjectMeta: objMeta("deny", time.Hour), Spec: networkingv1.NetworkPolicySpec{PodSelector: *webSelector}},
			[]any{"deny", "app=web", "60m"}},
		{"network policy for all pods", "NetworkPolicy", &networkingv1.NetworkPolicy{ObjectMeta: objMeta("deny-all", time.Hour)},
			[]any{"deny-all", "<none>", "60m"}},
		{"pdb", "PodDisruptionBudget", &policyv1.PodDisruptionBudget{
			ObjectMeta: objMeta("web", time.Hour),
			Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr(intstr.FromString("50%"))},
			Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1},
		}, []any{"web", "50%", "N/A", int64(1), "60m"}},
		{"limit range", "LimitRange", &corev1.LimitRange{ObjectMeta: objMeta("limits", time.Hour)},
			[]any{"limits", "2025-06-01T11:00:00Z"}},
		{"resource quota", "ResourceQuota", &corev1.ResourceQuota{
			ObjectMeta: objMeta("compute", time.Hour),
			Status: corev1.ResourceQuotaStatus{
				Hard: corev1.ResourceList{"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("4"), "limits.memory": resource.MustParse("8Gi"), "limits.cpu": resource.MustParse("8")},
				Used: corev1.ResourceList{"pods": resource.MustParse("3"), "requests.cpu": resource.MustParse("500m"), "limits.cpu": resource.MustParse("1")},
			},
		}, []any{"compute", "pods: 3/10, requests.cpu: 500m/4", "limits.cpu: 1/8, limits.memory: 0/8Gi", "60m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Row(kind(t, tt.kind), tt.obj, now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("cells:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		t    metav1.Time
		want string
	}{
		{metav1.Time{}, "<unknown>"},
		{ago(0), "0s"},
		{ago(-time.Second), "0s"},        // a little clock skew is "now"
		{ago(-time.Minute), "<invalid>"}, // created in the future
		{ago(119 * time.Second), "119s"},
		{ago(9*time.Minute + 5*time.Second), "9m5s"},
		{ago(179 * time.Minute), "179m"},
		{ago(7*time.Hour + 59*time.Minute), "7h59m"},
		{ago(47 * time.Hour), "47h"},
		{ago(8 * 24 * time.Hour), "8d"},
	}
	for _, tt := range tests {
		if got := age(tt.t, now); got != tt.want {
			t.Errorf("age(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}
