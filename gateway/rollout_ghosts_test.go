package gateway_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/gateway"
)

// withHeader is a client of e that sends one more header on every request.
func (e *env) withHeader(t *testing.T, name, value string) *kubernetes.Clientset {
	t.Helper()
	rc := rest.CopyConfig(e.config)
	rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r = r.Clone(r.Context())
			r.Header.Set(name, value)
			return rt.RoundTrip(r)
		})
	}
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func podTemplate(app, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
}

func controllerRef(kind, name, uid string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: types.UID(uid), Controller: &yes}}
}

// A list of ReplicaSets or ControllerRevisions for `kubectl rollout
// history|undo` (or with Wake-Include-Deleted: controlled) also holds the
// ones the log shows deleted whose controller exists; no other list does.
func TestRolloutListsDeletedRevisions(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	apps := e.client.AppsV1()
	deploy := func(name string) *appsv1.Deployment {
		d, err := apps.Deployments("default").Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: podTemplate(name, "example/"+name),
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	web, gone := deploy("web"), deploy("gone")
	rs := func(name, app string, owner *appsv1.Deployment, revision int, image string) {
		t.Helper()
		r := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app},
				Annotations: map[string]string{"deployment.kubernetes.io/revision": strconv.Itoa(revision)}},
			Spec: appsv1.ReplicaSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
				Template: podTemplate(app, image),
			},
		}
		if owner != nil {
			r.OwnerReferences = controllerRef("Deployment", owner.Name, string(owner.UID))
		}
		if _, err := apps.ReplicaSets("default").Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	del := func(name string) {
		t.Helper()
		if err := apps.ReplicaSets("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	rs("web-1", "web", web, 1, "example/web:v1")
	del("web-1") // pruned: listed from the log
	rs("web-2", "web", web, 2, "example/web:v2")
	rs("web-dup", "web", web, 2, "example/web:dup")
	del("web-dup") // its revision number is live web-2's
	rs("web-re", "web", web, 3, "example/web:v3")
	del("web-re")
	rs("web-re", "web", web, 4, "example/web:v4") // the name is live again
	rs("other-1", "other", web, 5, "example/other:v1")
	del("other-1") // the label selector web's rollout lists with does not match
	rs("gone-1", "gone", gone, 1, "example/gone:v1")
	del("gone-1")
	if err := apps.Deployments("default").Delete(ctx, "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rs("orphan-1", "web", nil, 6, "example/orphan:v1")
	del("orphan-1") // no controller

	deletion, err := e.log.Last(ctx, events.Ref{Group: "apps", Resource: "replicasets", Namespace: "default", Name: "web-1"})
	if err != nil || deletion.Type != events.ObjectDeleted {
		t.Fatalf("web-1's last event: %v %v", deletion.Type, err)
	}

	list := func(c *kubernetes.Clientset, opts metav1.ListOptions) map[string]appsv1.ReplicaSet {
		t.Helper()
		l, err := c.AppsV1().ReplicaSets("default").List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]appsv1.ReplicaSet{}
		for _, r := range l.Items {
			out[r.Name] = r
		}
		return out
	}
	names := func(m map[string]appsv1.ReplicaSet) []string {
		var out []string
		for n := range m {
			out = append(out, n)
		}
		slices.Sort(out)
		return out
	}
	history := e.withHeader(t, "Kubectl-Command", "kubectl rollout history")
	webOnly := metav1.ListOptions{LabelSelector: "app=web"}
	for _, c := range []struct {
		name   string
		client *kubernetes.Clientset
		opts   metav1.ListOptions
		want   []string
	}{
		{"no header", e.client, webOnly, []string{"web-2", "web-re"}},
		{"another kubectl command", e.withHeader(t, "Kubectl-Command", "kubectl get"), webOnly, []string{"web-2", "web-re"}},
		{"kubectl rollout history", history, webOnly, []string{"web-1", "web-2", "web-re"}},
		{"kubectl rollout undo", e.withHeader(t, "Kubectl-Command", "kubectl rollout undo"), webOnly, []string{"web-1", "web-2", "web-re"}},
		{"client-go opt-in, no selector", e.withHeader(t, gateway.HeaderIncludeDeleted, "controlled"), metav1.ListOptions{}, []string{"other-1", "web-1", "web-2", "web-re"}},
		{"field selector", history, metav1.ListOptions{FieldSelector: "metadata.name=web-2"}, []string{"web-2"}},
		{"label selector matching nothing deleted", history, metav1.ListOptions{LabelSelector: "app=nothing"}, nil},
	} {
		if got := names(list(c.client, c.opts)); !slices.Equal(got, c.want) {
			t.Errorf("%s: listed %v, want %v", c.name, got, c.want)
		}
	}

	got := list(history, webOnly)
	ghost := got["web-1"]
	if ghost.DeletionTimestamp == nil || ghost.DeletionTimestamp.Unix() != deletion.Time.Unix() {
		t.Errorf("web-1's deletionTimestamp %v, want the deletion's time %v", ghost.DeletionTimestamp, deletion.Time)
	}
	rv := strconv.FormatUint(deletion.Seq, 10)
	if ghost.Annotations[gateway.AnnotationDeletedFromLog] != rv || ghost.ResourceVersion != rv {
		t.Errorf("web-1: annotation %q, resourceVersion %s, want the deletion's %s",
			ghost.Annotations[gateway.AnnotationDeletedFromLog], ghost.ResourceVersion, rv)
	}
	if img := ghost.Spec.Template.Spec.Containers[0].Image; img != "example/web:v1" || ghost.OwnerReferences[0].UID != web.UID {
		t.Errorf("web-1 is not its last state: image %s, owner %s", img, ghost.OwnerReferences[0].UID)
	}
	if re := got["web-re"]; re.DeletionTimestamp != nil || re.Spec.Template.Spec.Containers[0].Image != "example/web:v4" {
		t.Errorf("web-re is not the live one: %v %s", re.DeletionTimestamp, re.Spec.Template.Spec.Containers[0].Image)
	}

	// A list at a revision (time travel) has no deleted objects added.
	l, err := history.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at := metav1.ListOptions{ResourceVersion: l.ResourceVersion, ResourceVersionMatch: metav1.ResourceVersionMatchExact}
	if got := names(list(history, at)); !slices.Equal(got, []string{"web-2", "web-re"}) {
		t.Errorf("list at %s: %v", l.ResourceVersion, got)
	}
}

// A DaemonSet's (or StatefulSet's) pruned ControllerRevisions come back the
// same way.
func TestRolloutListsDeletedControllerRevisions(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	apps := e.client.AppsV1()
	ds, err := apps.DaemonSets("default").Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: podTemplate("agent", "example/agent:v2"),
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"agent-1", "agent-2"} {
		if _, err := apps.ControllerRevisions("default").Create(ctx, &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "agent"},
				OwnerReferences: controllerRef("DaemonSet", ds.Name, string(ds.UID))},
			Data:     runtime.RawExtension{Raw: []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"example/agent:v` + strconv.Itoa(i+1) + `"}]}}}}`)},
			Revision: int64(i + 1),
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := apps.ControllerRevisions("default").Delete(ctx, "agent-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		client *kubernetes.Clientset
		want   []string
	}{
		{e.client, []string{"agent-2"}},
		{e.withHeader(t, "Kubectl-Command", "kubectl rollout history"), []string{"agent-1", "agent-2"}},
	} {
		l, err := c.client.AppsV1().ControllerRevisions("default").List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, cr := range l.Items {
			got = append(got, cr.Name)
			if cr.Name == "agent-1" && (cr.Revision != 1 || cr.DeletionTimestamp == nil || cr.Annotations[gateway.AnnotationDeletedFromLog] == "") {
				t.Errorf("agent-1 from the log: revision %d, deletionTimestamp %v, annotations %v", cr.Revision, cr.DeletionTimestamp, cr.Annotations)
			}
		}
		if slices.Sort(got); !slices.Equal(got, c.want) {
			t.Errorf("listed %v, want %v", got, c.want)
		}
	}
}
