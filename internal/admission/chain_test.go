package admission

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/wakehq/wake/events/kinds"
)

// recorder is a plugin at every extension point that records its calls.
type recorder struct {
	name string
	log  *[]string
}

func (r recorder) Name() string                         { return r.name }
func (r recorder) PrepareCreate(runtime.Object, Create) { r.note("prepare") }
func (r recorder) Default(runtime.Object)               { r.note("default") }
func (r recorder) ValidateCreate(runtime.Object) field.ErrorList {
	r.note("create")
	return nil
}
func (r recorder) note(point string) { *r.log = append(*r.log, point+":"+r.name) }

// defaultsOnly takes part in one extension point only.
type defaultsOnly struct{ log *[]string }

func (defaultsOnly) Name() string             { return "defaultsOnly" }
func (d defaultsOnly) Default(runtime.Object) { *d.log = append(*d.log, "default:defaultsOnly") }

func TestChainRunsEachExtensionPointInOrder(t *testing.T) {
	var log []string
	c := New(recorder{"a", &log}, defaultsOnly{&log}, recorder{"b", &log})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}}
	if err := c.AdmitCreate(podKind(t), pod, Create{Kind: podKind(t)}); err != nil {
		t.Fatal(err)
	}
	want := []string{"prepare:a", "prepare:b", "default:a", "default:defaultsOnly", "default:b", "create:a", "create:b"}
	if !slices.Equal(log, want) {
		t.Errorf("calls = %v, want %v", log, want)
	}
}

func TestRegistryOrder(t *testing.T) {
	var names []string
	for _, p := range Builtin.Plugins() {
		names = append(names, p.Name())
	}
	want := []string{"ServerFields", "Defaults", "Validation", "Finalizers", "PodGrace"}
	if !slices.Equal(names, want) {
		t.Errorf("builtin chain = %v, want %v", names, want)
	}
}

func TestAdmitCreateIsInvalidWithTheObjectsName(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}} // no containers
	err := Builtin.AdmitCreate(podKind(t), pod, Create{Kind: podKind(t), UID: "u", Now: testTime.Time})
	if !apierrors.IsInvalid(err) || err.(apierrors.APIStatus).Status().Details.Name != "p" {
		t.Fatalf("err = %v, want 422 for pod p", err)
	}
}

func TestServerFields(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	running := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: "9", Generation: 4, DeletionTimestamp: &testTime, SelfLink: "/x",
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		}
	}
	for _, tc := range []struct {
		name      string
		c         Create
		wantPhase corev1.PodPhase
	}{
		{"a client's status is reset", Create{Kind: podKind(t), UID: "u", Now: now}, corev1.PodPending},
		{"a service's status stands", Create{Kind: podKind(t), UID: "u", Now: now, KeepStatus: true}, corev1.PodRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := running()
			ServerFields{}.PrepareCreate(p, tc.c)
			if p.UID != "u" || p.ResourceVersion != "" || p.Generation != 1 || !p.CreationTimestamp.Equal(&metav1.Time{Time: now.Truncate(time.Second)}) ||
				p.DeletionTimestamp != nil || p.SelfLink != "" || p.ManagedFields != nil {
				t.Errorf("metadata = %+v", p.ObjectMeta)
			}
			if p.Status.Phase != tc.wantPhase {
				t.Errorf("phase = %q, want %q", p.Status.Phase, tc.wantPhase)
			}
		})
	}
	fresh := &corev1.Pod{}
	ServerFields{}.PrepareCreate(fresh, Create{Kind: podKind(t), KeepStatus: true})
	if fresh.Status.Phase != corev1.PodPending || fresh.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("a service's new pod without a phase: %+v, want Pending, BestEffort", fresh.Status)
	}
}

func TestDeletionRules(t *testing.T) {
	pod := func(node string, phase corev1.PodPhase, grace *int64, finalizers ...string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Finalizers: finalizers},
			Spec: corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: grace}, Status: corev1.PodStatus{Phase: phase}}
	}
	for _, tc := range []struct {
		name      string
		obj       runtime.Object
		requested *int64
		held      bool
		grace     int64
		graceful  bool
	}{
		{"config map", &corev1.ConfigMap{}, nil, false, 0, false},
		{"config map with a finalizer", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Finalizers: []string{"x/y"}}}, ptr.To[int64](5), true, 0, false},
		{"namespace with spec finalizers", &corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}, nil, true, 0, false},
		{"unbound pod", pod("", corev1.PodPending, nil), nil, false, 0, false},
		{"bound pod", pod("n1", corev1.PodRunning, nil), nil, false, 30, true},
		{"bound pod, its own period", pod("n1", corev1.PodRunning, ptr.To[int64](7)), nil, false, 7, true},
		{"bound pod, the request's period", pod("n1", corev1.PodRunning, ptr.To[int64](7)), ptr.To[int64](0), false, 0, true},
		{"succeeded pod", pod("n1", corev1.PodSucceeded, nil), nil, false, 0, false},
		{"failed pod with a finalizer", pod("n1", corev1.PodFailed, nil, "x/y"), nil, true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Builtin.Held(tc.obj); got != tc.held {
				t.Errorf("Held = %v, want %v", got, tc.held)
			}
			grace, graceful := Builtin.GracePeriod(tc.obj, tc.requested)
			if grace != tc.grace || graceful != tc.graceful {
				t.Errorf("GracePeriod = %d, %v, want %d, %v", grace, graceful, tc.grace, tc.graceful)
			}
		})
	}
}

func podKind(t *testing.T) kinds.Kind {
	t.Helper()
	k, ok := kinds.ByResource("", "pods")
	if !ok {
		t.Fatal("pods are not served")
	}
	return k
}
