package gateway_test

import (
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

func TestClientGoCRUD(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cms := e.client.CoreV1().ConfigMaps("default")
	created, err := cms.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Labels: map[string]string{"app": "x"}},
		Data:       map[string]string{"a": "1"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.ResourceVersion == "" || created.UID == "" || created.CreationTimestamp.IsZero() {
		t.Fatalf("server fields not set: %+v", created.ObjectMeta)
	}
	if _, err := cms.Create(ctx, created, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("duplicate create: %v, want AlreadyExists", err)
	}
	got, err := cms.Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	if err != nil || got.ResourceVersion != created.ResourceVersion || got.Data["a"] != "1" {
		t.Fatalf("get: %v %+v", err, got)
	}

	got.Data["a"] = "2"
	updated, err := cms.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale := got.DeepCopy()
	stale.Data["a"] = "3"
	if _, err := cms.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: %v, want Conflict", err)
	}
	if _, err := cms.Patch(ctx, "kube-root-ca.crt", types.MergePatchType, []byte(`{"data":{"b":"x"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "app=x"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Data["b"] != "x" || list.Items[0].Data["a"] != "2" {
		t.Fatalf("list: %v %+v", err, list)
	}
	if list.ResourceVersion == "" || list.Items[0].ResourceVersion == updated.ResourceVersion {
		t.Fatalf("list resourceVersion %q, item %q", list.ResourceVersion, list.Items[0].ResourceVersion)
	}
	if err := cms.Delete(ctx, "kube-root-ca.crt", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: %v", err)
	}
	// The name can be used again after deletion.
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("re-create: %v", err)
	}
}

func TestStatusAndScale(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	deps := e.client.AppsV1().Deployments("default")
	replicas := int32(2)
	d, err := deps.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
		Status: appsv1.DeploymentStatus{Replicas: 99},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.Replicas != 0 || d.Generation != 1 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Fatalf("create: status %+v generation %d strategy %q", d.Status, d.Generation, d.Spec.Strategy.Type)
	}
	d.Status.Replicas = 2
	d.Status.ReadyReplicas = 1
	d2, err := deps.UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d2.Status.ReadyReplicas != 1 || d2.Generation != 1 {
		t.Fatalf("status update: %+v generation %d", d2.Status, d2.Generation)
	}
	// The main resource cannot change status.
	d2.Status.ReadyReplicas = 7
	d2.Labels = map[string]string{"x": "y"}
	d3, err := deps.Update(ctx, d2, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d3.Status.ReadyReplicas != 1 || d3.Labels["x"] != "y" || d3.Generation != 1 {
		t.Fatalf("main update: status %+v labels %v generation %d", d3.Status, d3.Labels, d3.Generation)
	}
	sc, err := deps.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil || sc.Spec.Replicas != 2 || sc.Status.Selector != "app=web" {
		t.Fatalf("scale: %v %+v", err, sc)
	}
	sc.Spec.Replicas = 5
	if _, err := deps.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	d4, _ := deps.Get(ctx, "web", metav1.GetOptions{})
	if *d4.Spec.Replicas != 5 || d4.Generation != 2 {
		t.Fatalf("after scale: replicas %d generation %d", *d4.Spec.Replicas, d4.Generation)
	}
}

func TestFinalizersHoldDeletion(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	cms := e.client.CoreV1().ConfigMaps("default")
	_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	held, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil || held.DeletionTimestamp == nil {
		t.Fatalf("held object: %v %+v", err, held)
	}
	held.Finalizers = nil
	if _, err := cms.Update(ctx, held, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after removing the last finalizer: %v, want NotFound", err)
	}
}

func TestInformer(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	factory := informers.NewSharedInformerFactoryWithOptions(e.client, 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().Pods().Informer()
	seen := make(chan string, 100)
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { seen <- "add " + o.(*corev1.Pod).Name },
		UpdateFunc: func(_, o any) { seen <- "update " + o.(*corev1.Pod).Name + " " + o.(*corev1.Pod).Labels["v"] },
		DeleteFunc: func(o any) {
			if p, ok := o.(*corev1.Pod); ok {
				seen <- "delete " + p.Name
			}
		},
	})
	pods := e.client.CoreV1().Pods("default")
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	}
	if _, err := pods.Create(ctx, pod("before"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-seen:
			if got != want {
				t.Fatalf("informer saw %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("informer did not see %q", want)
		}
	}
	expect("add before")
	for i := 0; i < 3; i++ {
		if _, err := pods.Create(ctx, pod(fmt.Sprintf("p%d", i)), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		expect(fmt.Sprintf("add p%d", i))
	}
	if _, err := pods.Patch(ctx, "p1", types.StrategicMergePatchType, []byte(`{"metadata":{"labels":{"v":"2"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("update p1 2")
	if err := pods.Delete(ctx, "p2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("delete p2")
	if n := len(inf.GetStore().List()); n != 3 {
		t.Fatalf("informer cache holds %d pods, want 3", n)
	}
}
