package tables

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"
)

// These tests send wake's Table through kubectl's own decoding and printer
// and compare the text with what kubectl prints for the same objects from a
// real cluster.

func kubectlPods() []runtime.Object {
	mk := func(ns, name string, created time.Duration, ip, node string, phase corev1.PodPhase, inits, apps []corev1.ContainerStatus) runtime.Object {
		p := pod(phase, inits, apps)
		p.Name, p.Namespace, p.CreationTimestamp = name, ns, ago(created)
		p.Spec.NodeName = node
		if ip != "" {
			p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
		}
		return p
	}
	crash := status("app", false, 5, waiting("CrashLoopBackOff"))
	crash.LastTerminationState = finished(2 * time.Minute)
	return objs(
		mk("default", "web-1", 5*time.Minute, "10.244.0.5", "node-1", corev1.PodRunning, nil,
			[]corev1.ContainerStatus{status("app", true, 0, running())}),
		mk("default", "crash-1", time.Hour, "10.244.0.6", "node-1", corev1.PodRunning, nil,
			[]corev1.ContainerStatus{crash}),
		mk("kube-system", "init-1", 30*time.Second, "", "node-2", corev1.PodPending,
			[]corev1.ContainerStatus{status("init0", false, 0, running())},
			[]corev1.ContainerStatus{status("app", false, 0, waiting("PodInitializing"))}),
		mk("default", "done-1", 48*time.Hour, "", "node-2", corev1.PodSucceeded, nil,
			[]corev1.ContainerStatus{status("app", false, 0, terminated("Completed", 0, 0))}),
	)
}

func kubectlNodes() []runtime.Object {
	info := func(n *corev1.Node) {
		n.Status.NodeInfo.OSImage = "Debian GNU/Linux 12 (bookworm)"
		n.Status.NodeInfo.KernelVersion = "6.8.0-45-generic"
		n.Status.NodeInfo.ContainerRuntimeVersion = "containerd://2.0.0"
	}
	return objs(
		node(func(n *corev1.Node) {
			info(n)
			n.Labels = map[string]string{"node-role.kubernetes.io/control-plane": ""}
			n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.2"}}
		}),
		node(func(n *corev1.Node) {
			info(n)
			n.Name, n.CreationTimestamp = "node-2", ago(9*24*time.Hour)
			n.Spec.Unschedulable = true
			n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "172.18.0.3"}}
		}),
	)
}

func TestKubectlPrintsTheTable(t *testing.T) {
	tests := []struct {
		name          string
		kind          string
		objs          []runtime.Object
		includeObject string
		opts          printers.PrintOptions
		want          string
	}{
		{"get pods", "Pod", kubectlPods(), "", printers.PrintOptions{}, `
NAME      READY   STATUS             RESTARTS     AGE
web-1     1/1     Running            0            5m
crash-1   0/1     CrashLoopBackOff   5 (2m ago)   60m
init-1    0/1     Init:0/1           0            30s
done-1    0/1     Completed          0            2d
`},
		{"get pods -o wide", "Pod", kubectlPods(), "", printers.PrintOptions{Wide: true}, `
NAME      READY   STATUS             RESTARTS     AGE   IP           NODE     NOMINATED NODE   READINESS GATES
web-1     1/1     Running            0            5m    10.244.0.5   node-1   <none>           <none>
crash-1   0/1     CrashLoopBackOff   5 (2m ago)   60m   10.244.0.6   node-1   <none>           <none>
init-1    0/1     Init:0/1           0            30s   <none>       node-2   <none>           <none>
done-1    0/1     Completed          0            2d    <none>       node-2   <none>           <none>
`},
		{"get pods -A", "Pod", kubectlPods(), "Metadata", printers.PrintOptions{WithNamespace: true}, `
NAMESPACE     NAME      READY   STATUS             RESTARTS     AGE
default       web-1     1/1     Running            0            5m
default       crash-1   0/1     CrashLoopBackOff   5 (2m ago)   60m
kube-system   init-1    0/1     Init:0/1           0            30s
default       done-1    0/1     Completed          0            2d
`},
		{"get pods -A --show-labels, full objects", "Pod", func() []runtime.Object {
			p := kubectlPods()[0].(*corev1.Pod)
			p.Labels = map[string]string{"app": "web"}
			return objs(p)
		}(), "Object", printers.PrintOptions{WithNamespace: true, ShowLabels: true}, `
NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE   LABELS
default     web-1   1/1     Running   0          5m    app=web
`},
		{"get pod/web-1", "Pod", kubectlPods()[:1], "", printers.PrintOptions{WithKind: true, Kind: corev1.SchemeGroupVersion.WithKind("Pod").GroupKind()}, `
NAME        READY   STATUS    RESTARTS   AGE
pod/web-1   1/1     Running   0          5m
`},
		{"get deployments", "Deployment", objs(
			&appsv1.Deployment{ObjectMeta: objMeta("web", 5*time.Minute), Spec: appsv1.DeploymentSpec{Replicas: ptr[int32](3)},
				Status: appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}},
			&appsv1.Deployment{ObjectMeta: objMeta("api", 26*time.Hour), Spec: appsv1.DeploymentSpec{Replicas: ptr[int32](1)},
				Status: appsv1.DeploymentStatus{ReadyReplicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}},
		), "", printers.PrintOptions{}, `
NAME   READY   UP-TO-DATE   AVAILABLE   AGE
web    2/3     3            2           5m
api    1/1     1            1           26h
`},
		{"get deployments -o wide", "Deployment", objs(
			&appsv1.Deployment{ObjectMeta: objMeta("web", 5*time.Minute),
				Spec:   appsv1.DeploymentSpec{Replicas: ptr[int32](3), Selector: webSelector, Template: podTemplate},
				Status: appsv1.DeploymentStatus{ReadyReplicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}},
		), "", printers.PrintOptions{Wide: true}, `
NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES               SELECTOR
web    3/3     3            3           5m    app,log      nginx:1.27,busybox   app=web
`},
		{"get services", "Service", objs(
			&corev1.Service{ObjectMeta: objMeta("kubernetes", 10*24*time.Hour), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIPs: []string{"10.96.0.1"},
				Ports: []corev1.ServicePort{{Port: 443, Protocol: corev1.ProtocolTCP}}}},
			&corev1.Service{ObjectMeta: objMeta("web", 3*time.Hour), Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.12.34"},
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}, {Port: 443, NodePort: 30443, Protocol: corev1.ProtocolTCP}}}},
		), "", printers.PrintOptions{}, `
NAME         TYPE           CLUSTER-IP    EXTERNAL-IP   PORT(S)                      AGE
kubernetes   ClusterIP      10.96.0.1     <none>        443/TCP                      10d
web          LoadBalancer   10.96.12.34   <pending>     80:30080/TCP,443:30443/TCP   3h
`},
		{"get nodes", "Node", kubectlNodes(), "", printers.PrintOptions{}, `
NAME     STATUS                     ROLES           AGE   VERSION
node-1   Ready                      control-plane   10d   v1.37.2
node-2   Ready,SchedulingDisabled   <none>          9d    v1.37.2
`},
		{"get nodes -o wide", "Node", kubectlNodes(), "", printers.PrintOptions{Wide: true}, `
NAME     STATUS                     ROLES           AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE                         KERNEL-VERSION     CONTAINER-RUNTIME
node-1   Ready                      control-plane   10d   v1.37.2   172.18.0.2    <none>        Debian GNU/Linux 12 (bookworm)   6.8.0-45-generic   containerd://2.0.0
node-2   Ready,SchedulingDisabled   <none>          9d    v1.37.2   172.18.0.3    <none>        Debian GNU/Linux 12 (bookworm)   6.8.0-45-generic   containerd://2.0.0
`},
		{"get events", "Event", objs(
			&corev1.Event{ObjectMeta: objMeta("web-1.17f", time.Hour), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1"},
				Type: corev1.EventTypeWarning, Reason: "BackOff", Message: "Back-off restarting failed container app in pod web-1_default",
				FirstTimestamp: ago(time.Hour), LastTimestamp: ago(2 * time.Minute), Count: 12},
			&corev1.Event{ObjectMeta: objMeta("web-1.17g", time.Hour), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-1"},
				Type: corev1.EventTypeNormal, Reason: "Pulled", Message: `Container image "nginx:1.27" already present on machine`,
				FirstTimestamp: ago(30 * time.Second), LastTimestamp: ago(30 * time.Second), Count: 1},
		), "", printers.PrintOptions{}, `
LAST SEEN   TYPE      REASON    OBJECT      MESSAGE
2m          Warning   BackOff   pod/web-1   Back-off restarting failed container app in pod web-1_default
30s         Normal    Pulled    pod/web-1   Container image "nginx:1.27" already present on machine
`},
		{"get jobs", "Job", objs(
			&batchv1.Job{ObjectMeta: objMeta("pi", time.Hour), Spec: batchv1.JobSpec{Completions: ptr[int32](1)},
				Status: batchv1.JobStatus{Succeeded: 1, StartTime: agoPtr(time.Hour), CompletionTime: agoPtr(time.Hour - 47*time.Second),
					Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}},
			&batchv1.Job{ObjectMeta: objMeta("work", 3*time.Minute), Spec: batchv1.JobSpec{Parallelism: ptr[int32](4)},
				Status: batchv1.JobStatus{StartTime: agoPtr(3 * time.Minute)}},
		), "", printers.PrintOptions{}, `
NAME   STATUS     COMPLETIONS   DURATION   AGE
pi     Complete   1/1           47s        60m
work   Running    0/1 of 4      3m         3m
`},
		{"get cronjobs", "CronJob", objs(
			&batchv1.CronJob{ObjectMeta: objMeta("hello", 48*time.Hour),
				Spec:   batchv1.CronJobSpec{Schedule: "*/5 * * * *", Suspend: ptr(false)},
				Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "hello-1"}}, LastScheduleTime: agoPtr(75 * time.Second)}},
		), "", printers.PrintOptions{}, `
NAME    SCHEDULE      TIMEZONE   SUSPEND   ACTIVE   LAST SCHEDULE   AGE
hello   */5 * * * *   <none>     False     1        75s             2d
`},
		{"get priorityclasses", "PriorityClass", objs(
			&schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "system-cluster-critical", CreationTimestamp: ago(10 * 24 * time.Hour)},
				Value: 2000000000, PreemptionPolicy: ptr(corev1.PreemptLowerPriority)},
		), "", printers.PrintOptions{}, `
NAME                      VALUE        GLOBAL-DEFAULT   AGE   PREEMPTIONPOLICY
system-cluster-critical   2000000000   false            10d   PreemptLowerPriority
`},
		{"get limitranges", "LimitRange", objs(&corev1.LimitRange{ObjectMeta: objMeta("limits", time.Hour)}), "", printers.PrintOptions{}, `
NAME     CREATED AT
limits   2025-06-01T11:00:00Z
`},
		{"no rows, no headers", "Pod", nil, "", printers.PrintOptions{}, "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl, err := Build(kind(t, tt.kind), tt.objs, tt.includeObject, now)
			if err != nil {
				t.Fatal(err)
			}
			got := kubectlGet(t, tbl, tt.opts)
			if want := strings.TrimPrefix(tt.want, "\n"); got != want {
				t.Errorf("kubectl printed:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
