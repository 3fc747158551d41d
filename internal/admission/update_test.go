package admission

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// stored admits obj as a create and returns it as the log would hold it.
func stored(t *testing.T, obj runtime.Object) runtime.Object {
	t.Helper()
	if errs := admit(obj); len(errs) > 0 {
		t.Fatalf("fixture invalid: %s", dump(errs))
	}
	return obj
}

// update is one change to a stored object and what ValidateUpdate says.
type update struct {
	name   string
	old    runtime.Object
	change func(runtime.Object)
	// want is empty for an allowed change.
	typ    field.ErrorType
	field  string
	detail string
}

func runUpdates(t *testing.T, updates []update) {
	t.Helper()
	for _, u := range updates {
		t.Run(u.name, func(t *testing.T) {
			old := stored(t, u.old)
			obj := old.DeepCopyObject()
			u.change(obj)
			Default(obj)
			errs := ValidateUpdate(obj, old)
			if u.typ == "" {
				wantNoErr(t, errs)
				return
			}
			wantErr(t, errs, u.typ, u.field, u.detail)
		})
	}
}

func TestValidateUpdateMetadata(t *testing.T) {
	runUpdates(t, []update{
		{"labels may change", validPod(), func(o runtime.Object) { o.(*corev1.Pod).Labels["tier"] = "front" }, "", "", ""},
		{"uid", validPod(), func(o runtime.Object) { o.(*corev1.Pod).UID = "other" }, field.ErrorTypeInvalid, "metadata.uid", "field is immutable"},
		{"creationTimestamp", validPod(), func(o runtime.Object) { o.(*corev1.Pod).CreationTimestamp = metav1.Time{} }, field.ErrorTypeInvalid, "metadata.creationTimestamp", "field is immutable"},
		{"name", validPod(), func(o runtime.Object) { o.(*corev1.Pod).Name = "web-1" }, field.ErrorTypeInvalid, "metadata.name", "field is immutable"},
		{"namespace", validPod(), func(o runtime.Object) { o.(*corev1.Pod).Namespace = "other" }, field.ErrorTypeInvalid, "metadata.namespace", "field is immutable"},
		{"invalid labels", validPod(), func(o runtime.Object) { o.(*corev1.Pod).Labels["x"] = "not valid" }, field.ErrorTypeInvalid, "metadata.labels", ""},
		{"generation decremented", validPod(), func(o runtime.Object) { o.(*corev1.Pod).Generation = -1 }, field.ErrorTypeInvalid, "metadata.generation", ""},
		{"deletion may begin", validPod(), func(o runtime.Object) {
			p := o.(*corev1.Pod)
			p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &testTime, ptr.To[int64](30)
		}, "", "", ""},
	})
	// Once deleting, no finalizer may be added and the deletion stays.
	p := validPod()
	p.Finalizers = []string{"example.com/keep"}
	old := stored(t, p).(*corev1.Pod)
	old.DeletionTimestamp = &testTime
	next := old.DeepCopy()
	next.Finalizers = append(next.Finalizers, "example.com/more")
	wantErr(t, ValidateUpdate(next, old), field.ErrorTypeForbidden, "metadata.finalizers", "no new finalizers")
	next = old.DeepCopy()
	next.Finalizers, next.DeletionTimestamp = nil, nil
	wantErr(t, ValidateUpdate(next, old), field.ErrorTypeInvalid, "metadata.deletionTimestamp", "field is immutable")
	next = old.DeepCopy()
	next.Finalizers = nil
	wantNoErr(t, ValidateUpdate(next, old))
}

func TestValidateUpdatePod(t *testing.T) {
	c := func(o runtime.Object) *corev1.Pod { return o.(*corev1.Pod) }
	tolerating := func() *corev1.Pod {
		p := validPod()
		p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](60)}}
		p.Spec.ActiveDeadlineSeconds = ptr.To[int64](600)
		return p
	}
	runUpdates(t, []update{
		{"image", validPod(), func(o runtime.Object) { c(o).Spec.Containers[0].Image = "nginx:1.28" }, "", "", ""},
		{"init image", pod(func(p *corev1.Pod) { p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1"}} }),
			func(o runtime.Object) { c(o).Spec.InitContainers[0].Image = "busybox:2" }, "", "", ""},
		{"set activeDeadlineSeconds", validPod(), func(o runtime.Object) { c(o).Spec.ActiveDeadlineSeconds = ptr.To[int64](30) }, "", "", ""},
		{"shorten activeDeadlineSeconds", tolerating(), func(o runtime.Object) { c(o).Spec.ActiveDeadlineSeconds = ptr.To[int64](300) }, "", "", ""},
		{"lengthen activeDeadlineSeconds", tolerating(), func(o runtime.Object) { c(o).Spec.ActiveDeadlineSeconds = ptr.To[int64](900) },
			field.ErrorTypeInvalid, "spec.activeDeadlineSeconds", "must be less than or equal to previous value"},
		{"unset activeDeadlineSeconds", tolerating(), func(o runtime.Object) { c(o).Spec.ActiveDeadlineSeconds = nil },
			field.ErrorTypeInvalid, "spec.activeDeadlineSeconds", "must not update from a positive integer to nil value"},
		{"add toleration", tolerating(), func(o runtime.Object) {
			c(o).Spec.Tolerations = append(c(o).Spec.Tolerations, corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists})
		}, "", "", ""},
		{"change tolerationSeconds", tolerating(), func(o runtime.Object) { c(o).Spec.Tolerations[0].TolerationSeconds = ptr.To[int64](10) }, "", "", ""},
		{"remove toleration", tolerating(), func(o runtime.Object) { c(o).Spec.Tolerations = nil },
			field.ErrorTypeForbidden, "spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"},
		{"terminationGracePeriodSeconds", validPod(), func(o runtime.Object) { c(o).Spec.TerminationGracePeriodSeconds = ptr.To[int64](5) }, "", "", ""},
		{"ports", validPod(), func(o runtime.Object) { c(o).Spec.Containers[0].Ports[0].ContainerPort = 8080 },
			field.ErrorTypeForbidden, "spec", "pod updates may not change fields other than `spec.containers[*].image`"},
		{"nodeName", validPod(), func(o runtime.Object) { c(o).Spec.NodeName = "node-1" },
			field.ErrorTypeForbidden, "spec", "changed: spec.nodeName"},
		{"add container", validPod(), func(o runtime.Object) {
			c(o).Spec.Containers = append(c(o).Spec.Containers, corev1.Container{Name: "side", Image: "busybox"})
		}, field.ErrorTypeForbidden, "spec", "changed: spec.containers"},
		{"empty image", validPod(), func(o runtime.Object) { c(o).Spec.Containers[0].Image = "" }, field.ErrorTypeRequired, "spec.containers[0].image", ""},
		{"remove scheduling gate", pod(func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "a"}, {Name: "b"}} }),
			func(o runtime.Object) { c(o).Spec.SchedulingGates = c(o).Spec.SchedulingGates[1:] }, "", "", ""},
	})
}

func TestValidateUpdateWorkloads(t *testing.T) {
	otherSelector := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "v": "2"}}
	relabel := func(t *corev1.PodTemplateSpec) { t.Labels["v"] = "2" }
	runUpdates(t, []update{
		{"deployment scale and image", validDeployment(), func(o runtime.Object) {
			d := o.(*appsv1.Deployment)
			d.Spec.Replicas = ptr.To[int32](10)
			d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
		}, "", "", ""},
		{"deployment selector", validDeployment(), func(o runtime.Object) {
			d := o.(*appsv1.Deployment)
			d.Spec.Selector = otherSelector
			relabel(&d.Spec.Template)
		}, field.ErrorTypeInvalid, "spec.selector", "field is immutable"},
		{"deployment still validated", validDeployment(), func(o runtime.Object) { o.(*appsv1.Deployment).Spec.Replicas = ptr.To[int32](-1) },
			field.ErrorTypeInvalid, "spec.replicas", ""},
		{"replicaset selector", validReplicaSet(), func(o runtime.Object) {
			r := o.(*appsv1.ReplicaSet)
			r.Spec.Selector = otherSelector
			relabel(&r.Spec.Template)
		}, field.ErrorTypeInvalid, "spec.selector", "field is immutable"},
		{"daemonset selector", validDaemonSet(), func(o runtime.Object) {
			d := o.(*appsv1.DaemonSet)
			d.Spec.Selector = otherSelector
			relabel(&d.Spec.Template)
		}, field.ErrorTypeInvalid, "spec.selector", "field is immutable"},
		{"statefulset scale and template", validStatefulSet(), func(o runtime.Object) {
			s := o.(*appsv1.StatefulSet)
			s.Spec.Replicas = ptr.To[int32](3)
			s.Spec.Template.Spec.Containers[0].Image = "postgres:17"
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}, "", "", ""},
		{"statefulset selector", validStatefulSet(), func(o runtime.Object) {
			s := o.(*appsv1.StatefulSet)
			s.Spec.Selector = otherSelector
			relabel(&s.Spec.Template)
		}, field.ErrorTypeInvalid, "spec.selector", "field is immutable"},
		{"statefulset serviceName", validStatefulSet(), func(o runtime.Object) { o.(*appsv1.StatefulSet).Spec.ServiceName = "other" },
			field.ErrorTypeForbidden, "spec", "updates to statefulset spec for fields other than 'replicas'"},
	})
}

func TestValidateUpdateJob(t *testing.T) {
	j := func(o runtime.Object) *batchv1.Job { return o.(*batchv1.Job) }
	suspended := func() *batchv1.Job { job := validJob(); job.Spec.Suspend = ptr.To(true); return job }
	indexed := func() *batchv1.Job {
		job := validJob()
		job.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		job.Spec.Completions, job.Spec.Parallelism = ptr.To[int32](3), ptr.To[int32](3)
		return job
	}
	runUpdates(t, []update{
		{"parallelism and suspend", validJob(), func(o runtime.Object) {
			j(o).Spec.Parallelism = ptr.To[int32](4)
			j(o).Spec.Suspend = ptr.To(true)
		}, "", "", ""},
		{"selector", validJob(), func(o runtime.Object) {
			j(o).Spec.Selector.MatchLabels = map[string]string{batchv1.ControllerUidLabel: "0b6c7a52-1c8e-4e0a-9d59-5f3c1a1e2b3c", "app": "web"}
		}, field.ErrorTypeInvalid, "spec.selector", "field is immutable"},
		{"template", validJob(), func(o runtime.Object) { j(o).Spec.Template.Spec.Containers[0].Image = "perl:5" },
			field.ErrorTypeInvalid, "spec.template", "field is immutable"},
		{"template scheduling while suspended", suspended(), func(o runtime.Object) {
			t := &j(o).Spec.Template
			t.Spec.NodeSelector = map[string]string{"zone": "a"}
			t.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
			t.Labels["queue"] = "batch"
		}, "", "", ""},
		{"template image while suspended", suspended(), func(o runtime.Object) { j(o).Spec.Template.Spec.Containers[0].Image = "perl:5" },
			field.ErrorTypeInvalid, "spec.template", "field is immutable"},
		{"completions", validJob(), func(o runtime.Object) { j(o).Spec.Completions = ptr.To[int32](5) },
			field.ErrorTypeInvalid, "spec.completions", "field is immutable"},
		{"elastic indexed job", indexed(), func(o runtime.Object) {
			j(o).Spec.Completions, j(o).Spec.Parallelism = ptr.To[int32](5), ptr.To[int32](5)
		}, "", "", ""},
		{"indexed completions alone", indexed(), func(o runtime.Object) { j(o).Spec.Completions = ptr.To[int32](5) },
			field.ErrorTypeInvalid, "spec.completions", "can only be modified in tandem with spec.parallelism"},
		{"completionMode", validJob(), func(o runtime.Object) {
			j(o).Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		}, field.ErrorTypeInvalid, "spec.completionMode", "field is immutable"},
	})
}

func TestValidateUpdateServiceAndData(t *testing.T) {
	s := func(o runtime.Object) *corev1.Service { return o.(*corev1.Service) }
	allocated := func() *corev1.Service { v := validService(); v.Spec.ClusterIP = "10.96.0.20"; return v }
	immutableCM := func() *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: om("cfg"), Immutable: ptr.To(true), Data: map[string]string{"k": "v"}}
	}
	immutableSecret := func() *corev1.Secret {
		return &corev1.Secret{ObjectMeta: om("sec"), Immutable: ptr.To(true), Data: map[string][]byte{"k": []byte("v")}}
	}
	runUpdates(t, []update{
		{"service ports", allocated(), func(o runtime.Object) { s(o).Spec.Ports[0].Port = 8080 }, "", "", ""},
		{"service clusterIP", allocated(), func(o runtime.Object) { s(o).Spec.ClusterIP, s(o).Spec.ClusterIPs = "10.96.0.21", nil },
			field.ErrorTypeInvalid, "spec.clusterIP", "field is immutable"},
		{"service clusterIPs[0]", allocated(), func(o runtime.Object) { s(o).Spec.ClusterIPs = []string{"10.96.0.21"} },
			field.ErrorTypeInvalid, "spec.clusterIPs[0]", ""},
		{"service clusterIP set once", validService(), func(o runtime.Object) { s(o).Spec.ClusterIP = "10.96.0.22" }, "", "", ""},
		{"service to NodePort", allocated(), func(o runtime.Object) { s(o).Spec.Type = corev1.ServiceTypeNodePort }, "", "", ""},
		{"service to ExternalName", allocated(), func(o runtime.Object) {
			sv := s(o)
			sv.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}
		}, "", "", ""},
		{"configmap mutable", &corev1.ConfigMap{ObjectMeta: om("cfg"), Data: map[string]string{"k": "v"}},
			func(o runtime.Object) { o.(*corev1.ConfigMap).Data["k"] = "w" }, "", "", ""},
		{"configmap immutable data", immutableCM(), func(o runtime.Object) { o.(*corev1.ConfigMap).Data["k"] = "w" },
			field.ErrorTypeForbidden, "data", "field is immutable when `immutable` is set"},
		{"configmap immutable flag", immutableCM(), func(o runtime.Object) { o.(*corev1.ConfigMap).Immutable = ptr.To(false) },
			field.ErrorTypeForbidden, "immutable", "field is immutable when `immutable` is set"},
		{"configmap immutable labels", immutableCM(), func(o runtime.Object) { o.(*corev1.ConfigMap).Labels = map[string]string{"a": "b"} }, "", "", ""},
		{"secret immutable data", immutableSecret(), func(o runtime.Object) { o.(*corev1.Secret).Data["k"] = []byte("w") },
			field.ErrorTypeForbidden, "data", "field is immutable when `immutable` is set"},
		{"secret type", &corev1.Secret{ObjectMeta: om("sec")}, func(o runtime.Object) {
			o.(*corev1.Secret).Type = corev1.SecretTypeBasicAuth
			o.(*corev1.Secret).Data = map[string][]byte{"username": []byte("u")}
		}, field.ErrorTypeInvalid, "type", "field is immutable"},
		{"priorityclass value", &schedulingv1.PriorityClass{ObjectMeta: om("high"), Value: 10}, func(o runtime.Object) {
			o.(*schedulingv1.PriorityClass).Value = 11
		}, field.ErrorTypeForbidden, "value", "may not be changed in an update."},
		{"node podCIDR", &corev1.Node{ObjectMeta: om("n1"), Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24"}}, func(o runtime.Object) {
			o.(*corev1.Node).Spec.PodCIDR = "10.244.2.0/24"
		}, field.ErrorTypeForbidden, "spec.podCIDRs", "node updates may not change podCIDR"},
		{"pvc spec", validPVC(), func(o runtime.Object) {
			o.(*corev1.PersistentVolumeClaim).Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		}, field.ErrorTypeForbidden, "spec", "spec is immutable after creation"},
		{"pvc bind", validPVC(), func(o runtime.Object) { o.(*corev1.PersistentVolumeClaim).Spec.VolumeName = "pv-1" }, "", "", ""},
	})
}

// A status-only update (the gateway keeps the spec) passes for every kind.
func TestValidateUpdateUnchanged(t *testing.T) {
	for name, obj := range validObjects() {
		old := stored(t, obj)
		if errs := ValidateUpdate(old.DeepCopyObject(), old); len(errs) > 0 {
			t.Errorf("%s: %s", name, dump(errs))
		}
	}
}
