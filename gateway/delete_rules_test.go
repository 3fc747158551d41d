package gateway_test

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wakehq/wake/events"
)

// TestPodDeletionGrace checks that the gateway applies the pod grace rule
// (internal/admission's PodGrace): a pod running on a node is deleted with
// the request's grace period, else its own, else 30 seconds; any other pod
// with none.
func TestPodDeletionGrace(t *testing.T) {
	e := start(t)
	ctx := t.Context()
	pods := e.client.CoreV1().Pods("default")
	for _, tc := range []struct {
		name, node string
		own        *int64
		requested  *int64
		want       int64
	}{
		{"bound", "n1", nil, nil, 30},
		{"bound-own", "n1", ptr[int64](7), nil, 7},
		{"bound-requested", "n1", ptr[int64](7), ptr[int64](3), 3},
		{"unbound", "", ptr[int64](7), nil, 0},
	} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: tc.name},
			Spec: corev1.PodSpec{NodeName: tc.node, TerminationGracePeriodSeconds: tc.own, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := pods.Delete(ctx, tc.name, metav1.DeleteOptions{GracePeriodSeconds: tc.requested}); err != nil {
			t.Fatal(err)
		}
		last, err := e.log.Last(ctx, events.Ref{Resource: "pods", Namespace: "default", Name: tc.name})
		if err != nil {
			t.Fatal(err)
		}
		var got corev1.Pod
		if err := json.Unmarshal(last.Data, &got); err != nil {
			t.Fatal(err)
		}
		if got.DeletionTimestamp == nil || got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != tc.want {
			t.Errorf("%s: deletion marks %v %v, want a grace period of %d", tc.name, got.DeletionTimestamp, got.DeletionGracePeriodSeconds, tc.want)
		}
	}
	if _, err := pods.Get(ctx, "unbound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("unbound pod after delete: %v, want NotFound", err)
	}
}
