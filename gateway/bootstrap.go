package gateway

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SystemUser is the actor of what wake does on its own behalf.
var SystemUser = User{Name: "system:wake", Groups: []string{"system:masters"}}

// systemNamespaces exist in every Kubernetes cluster.
var systemNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// Bootstrap creates what every cluster starts with, when missing. It is safe
// to run on every start and from several gateways at once.
func (s *Server) Bootstrap(ctx context.Context) error {
	ctx = context.WithValue(ctx, userKey{}, SystemUser)
	ctx = context.WithValue(ctx, requestIDKey{}, "bootstrap")
	for _, name := range systemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		t := target{kind: namespaceKind}
		if _, err := s.createObject(ctx, t, ns, false); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return s.bootstrapKubernetesService(ctx)
}
