package admission

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/wakehq/wake/events/kinds"
)

// The built-in plugins wrap the package's functions (Default,
// ValidateCreate, ValidateUpdate, InitialStatus) and the deletion rules, so
// that every writer runs them through one Chain.

var (
	_ CreatePreparer  = ServerFields{}
	_ Defaulter       = Defaults{}
	_ CreateValidator = Validation{}
	_ UpdateValidator = Validation{}
	_ DeletionHolder  = Finalizers{}
	_ GracePeriodRule = PodGrace{}
)

// Create is what a writer knows about a new object that the object does
// not say itself.
type Create struct {
	Kind kinds.Kind
	UID  types.UID // random for clients, derived from a seed by the services
	Now  time.Time // the creation time, truncated to the second
	// KeepStatus says the writer decided the status (the services and the
	// agent do): it stands, except that a pod without a phase starts
	// Pending. Clients' creates (false) start from InitialStatus.
	KeepStatus bool
}

// ServerFields sets the fields the server owns on a new object: uid,
// creation time, generation 1, no resourceVersion, deletion marks, managed
// fields or selfLink, and the initial status.
type ServerFields struct{}

func (ServerFields) Name() string { return "ServerFields" }

func (ServerFields) PrepareCreate(obj runtime.Object, c Create) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return // not an object: Validation says so
	}
	m.SetUID(c.UID)
	m.SetResourceVersion("")
	m.SetCreationTimestamp(metav1.NewTime(c.Now.UTC().Truncate(time.Second)))
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetManagedFields(nil)
	m.SetSelfLink("")
	m.SetGeneration(1)
	switch {
	case !c.KeepStatus && c.Kind.Status:
		InitialStatus(obj)
	case c.KeepStatus:
		if pod, ok := obj.(*corev1.Pod); ok && pod.Status.Phase == "" {
			InitialStatus(obj) // a new pod is Pending, with its QoS class
		}
	}
}

// Defaults is kube-apiserver's defaulting of the v1 types (Default).
type Defaults struct{}

func (Defaults) Name() string               { return "Defaults" }
func (Defaults) Default(obj runtime.Object) { Default(obj) }

// Validation is kube-apiserver's validation of the v1 types: metadata by
// the kind's naming and scope rules, content, immutable fields
// (ValidateCreate, ValidateUpdate).
type Validation struct{}

func (Validation) Name() string { return "Validation" }

func (Validation) ValidateCreate(obj runtime.Object) field.ErrorList { return ValidateCreate(obj) }

func (Validation) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	return ValidateUpdate(obj, old)
}

// Finalizers holds a deleted object while finalizers remain: its own, and
// for a namespace also its spec's (the namespace controller's).
type Finalizers struct{}

func (Finalizers) Name() string { return "Finalizers" }

func (Finalizers) Holds(obj runtime.Object) bool {
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		return true
	}
	m, err := meta.Accessor(obj)
	return err == nil && len(m.GetFinalizers()) > 0
}

// PodGrace is the pod grace-period rule: a pod running on a node (bound,
// neither Succeeded nor Failed) winds down for the requested grace period,
// else its terminationGracePeriodSeconds, else 30 seconds, and its agent
// finishes it. Everything else goes at once.
type PodGrace struct{}

func (PodGrace) Name() string { return "PodGrace" }

func (PodGrace) GracePeriod(obj runtime.Object, requested *int64) (int64, bool) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	switch {
	case requested != nil:
		return *requested, true
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return *pod.Spec.TerminationGracePeriodSeconds, true
	}
	return corev1.DefaultTerminationGracePeriodSeconds, true
}
