package agent

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/agent/eviction"
	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
	ti "github.com/wakehq/wake/internal/testimage"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/services/reconcile"
)

// TestImageGCKeepsImagesInUse: above the high threshold the agent removes
// the images no pod of the node refers to, and only those.
func TestImageGCKeepsImagesInUse(t *testing.T) {
	ti.RequireRoot(t)
	_, nc := natstest.Start(t)
	log, err := events.Open(t.Context(), nc, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	view := projections.New(projections.Options{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); view.Run(t.Context(), log, nil) }()
	t.Cleanup(wg.Wait)
	<-view.Ready()

	host := ti.Registry(t)
	store, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pull := func(repo string, files ...ti.File) *image.Image {
		img, err := mutate.AppendLayers(empty.Image, ti.Layer(t, files...))
		if err != nil {
			t.Fatal(err)
		}
		im, err := store.Pull(t.Context(), ti.Push(t, host, repo, img), nil, []string{host})
		if err != nil {
			t.Fatal(err)
		}
		return im
	}
	byRef := pull("app/by-ref:v1", ti.File{Name: "a", Body: []byte("a")})
	byID := pull("app/by-status:v1", ti.File{Name: "b", Body: []byte("b")})
	unused := pull("app/unused:v1", ti.File{Name: "c", Body: []byte("c")})
	otherNode := pull("app/other-node:v1", ti.File{Name: "d", Body: []byte("d")})

	var mu sync.Mutex
	used := int64(90)
	a, err := New(Config{NodeName: "gc1", StateDir: t.TempDir(), Log: log, View: view, Logger: testLogger(), Images: store,
		Measure: func(string) eviction.Measures {
			mu.Lock()
			defer mu.Unlock()
			return eviction.Measures{DiskSize: 100 << 30, DiskAvailable: (100 - used) << 30} // GiB: more than the images hold
		}})
	if err != nil {
		t.Fatal(err)
	}
	a.images = store
	for _, p := range []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "ref", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "gc1",
			Containers: []corev1.Container{{Name: "c", Image: host + "/app/by-ref:v1"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "status", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "gc1",
			Containers: []corev1.Container{{Name: "c", Image: "renamed/elsewhere:v9"}}},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "c", ImageID: host + "/app/by-status@" + byID.Digest}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "default"}, Spec: corev1.PodSpec{NodeName: "gc2",
			Containers: []corev1.Container{{Name: "c", Image: host + "/app/other-node:v1"}}}},
	} {
		ap, err := reconcile.Create(podKind, p, time.Now(), p.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.append(t.Context(), ap); err != nil {
			t.Fatal(err)
		}
	}
	policy := image.GCPolicy{MinAge: time.Nanosecond}
	// Under the high threshold nothing goes.
	mu.Lock()
	used = 84
	mu.Unlock()
	a.collectImages(policy)
	if n := len(store.List()); n != 4 {
		t.Fatalf("%d images after a collection under the threshold, want 4", n)
	}
	mu.Lock()
	used = 90
	mu.Unlock()
	time.Sleep(time.Millisecond)
	a.collectImages(policy)
	var left []string
	for _, im := range store.List() {
		left = append(left, im.ID)
	}
	want := map[string]bool{byRef.ID: true, byID.ID: true}
	if len(left) != 2 || !want[left[0]] || !want[left[1]] {
		t.Errorf("left %v; want the images in use (%s, %s), not %s or %s", left, byRef.ID, byID.ID, unused.ID, otherNode.ID)
	}
}
