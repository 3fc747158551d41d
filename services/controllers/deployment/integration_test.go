package deployment_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kubectl/pkg/polymorphichelpers"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/controllers/deployment"
	"github.com/wakehq/wake/services/controllers/replicaset"
	"github.com/wakehq/wake/services/controllers/replicaset/kubelettest"
	"github.com/wakehq/wake/services/reconcile"
	"github.com/wakehq/wake/services/reconcile/reconciletest"
)

var (
	deploymentKind = reconcile.MustKind("apps", "deployments")
	webRef         = events.Ref{Group: "apps", Resource: "deployments", Namespace: "default", Name: "web"}
)

type cluster struct {
	log  *events.Log
	proj *projections.Projection
}

// startCluster runs a projection, both controllers and the fake kubelet
// over an in-process NATS server.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	_, nc := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := events.Open(ctx, nc, events.Config{Memory: true})
	if err != nil {
		t.Fatal(err)
	}
	proj := projections.New(projections.Options{})
	reconciletest.Go(t, ctx, cancel,
		func(ctx context.Context) error { return proj.Run(ctx, log, nil) },
		replicaset.Loop(log, proj).Run,
		deployment.Loop(log, proj).Run,
		kubelettest.Loop(log, proj, nil).Run,
	)
	<-proj.Ready()
	return &cluster{log: log, proj: proj}
}

func newDeployment(replicas int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
		},
	}
}

func (c *cluster) append(t *testing.T, a reconcile.Append) error {
	t.Helper()
	ev := a.Event
	ev.ID, ev.Actor, ev.Source = events.NewID(), "tester", "wake/test"
	ev.RequestID = ev.ID
	seq, err := c.log.Append(t.Context(), ev, a.Expect)
	if err == nil {
		err = c.proj.WaitFor(t.Context(), seq)
	}
	return err
}

func (c *cluster) create(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	a, err := reconcile.Create(deploymentKind, d, time.Now(), "deployment/"+d.Name)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.append(t, a); err != nil {
		t.Fatal(err)
	}
}

// update changes the Deployment's spec as the gateway would (generation
// bumped), retrying when a controller wrote in between.
func (c *cluster) update(t *testing.T, change func(*appsv1.Deployment)) {
	t.Helper()
	for range 20 {
		d, o := c.deployment(t)
		change(d)
		d.Generation++
		a, err := reconcile.Update(deploymentKind, d, o, events.ChangeSpec)
		if err != nil {
			t.Fatal(err)
		}
		if err = c.append(t, a); err == nil {
			return
		} else if !errors.Is(err, events.ErrConflict) {
			t.Fatal(err)
		}
	}
	t.Fatal("update: too many conflicts")
}

func (c *cluster) deployment(t *testing.T) (*appsv1.Deployment, *projections.Object) {
	t.Helper()
	o, ok := c.proj.Get(webRef)
	if !ok {
		t.Fatal("deployment gone")
	}
	var d appsv1.Deployment
	if err := reconcile.DecodeInto(o, &d); err != nil {
		t.Fatal(err)
	}
	return &d, o
}

func (c *cluster) replicaSets(t *testing.T) []appsv1.ReplicaSet {
	objs, _ := c.proj.List("apps", "replicasets", "default")
	out := make([]appsv1.ReplicaSet, len(objs))
	for i, o := range objs {
		reconcile.DecodeInto(o, &out[i])
	}
	return out
}

// runningPods counts live pods by image.
func (c *cluster) runningPods() map[string]int {
	objs, _ := c.proj.List("", "pods", "default")
	out := map[string]int{}
	for _, o := range objs {
		var p corev1.Pod
		reconcile.DecodeInto(o, &p)
		if p.DeletionTimestamp == nil {
			out[p.Spec.Containers[0].Image]++
		}
	}
	return out
}

// rolloutStatus is what kubectl rollout status prints for the Deployment.
func rolloutStatus(t *testing.T, d *appsv1.Deployment) (string, bool) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d)
	if err != nil {
		t.Fatal(err)
	}
	msg, done, err := (&polymorphichelpers.DeploymentStatusViewer{}).Status(&unstructured.Unstructured{Object: m}, 0)
	if err != nil {
		return err.Error(), false
	}
	return msg, done
}

// eventually polls cond until it holds, or fails with what describe says.
func eventually(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached; %s", what, describe())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRolloutThroughTheLog(t *testing.T) {
	c := startCluster(t)
	c.create(t, newDeployment(3, "nginx:1"))

	state := func() string {
		d, _ := c.deployment(t)
		var b strings.Builder
		msg, _ := rolloutStatus(t, d)
		b.WriteString(msg)
		for _, rs := range c.replicaSets(t) {
			b.WriteString(" rs " + rs.Name + " rev " + rs.Annotations[deployment.RevisionAnnotation])
		}
		return b.String() + fmt.Sprint(" pods ", c.runningPods())
	}
	rolledOut := func(replicas int32, image string, revision string) func() bool {
		return func() bool {
			d, _ := c.deployment(t)
			_, done := rolloutStatus(t, d)
			pods := c.runningPods()
			return done && d.Status.Replicas == replicas && d.Status.AvailableReplicas == replicas &&
				pods[image] == int(replicas) && len(pods) == 1 && d.Annotations[deployment.RevisionAnnotation] == revision
		}
	}
	eventually(t, "3 replicas of nginx:1", rolledOut(3, "nginx:1", "1"), state)

	c.update(t, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
	eventually(t, "rolled out to nginx:2", rolledOut(3, "nginx:2", "2"), state)
	rss := c.replicaSets(t)
	if len(rss) != 2 {
		t.Fatalf("%d replica sets", len(rss))
	}
	for _, rs := range rss {
		rev := rs.Annotations[deployment.RevisionAnnotation]
		want := map[string]int32{"1": 0, "2": 3}[rev]
		if *rs.Spec.Replicas != want || rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == "" ||
			!strings.HasSuffix(rs.Name, "-"+rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]) {
			t.Errorf("replica set %s (revision %s): replicas %d, labels %v", rs.Name, rev, *rs.Spec.Replicas, rs.Labels)
		}
	}
	d, _ := c.deployment(t)
	if msg, _ := rolloutStatus(t, d); msg != "deployment \"web\" successfully rolled out\n" {
		t.Errorf("rollout status says %q", msg)
	}
	if cond := progressing(d); cond == nil || cond.Reason != deployment.NewRSAvailableReason {
		t.Errorf("Progressing condition %+v", cond)
	}

	c.update(t, func(d *appsv1.Deployment) { five := int32(5); d.Spec.Replicas = &five })
	eventually(t, "scaled to 5", rolledOut(5, "nginx:2", "2"), state)
}

func progressing(d *appsv1.Deployment) *appsv1.DeploymentCondition {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			return &c
		}
	}
	return nil
}
