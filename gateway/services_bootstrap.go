package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// bootstrapKubernetesService creates the `kubernetes` Service in default
// (the first address of the service CIDR, port 443) and, since it has no
// selector, its Endpoints and EndpointSlice naming this gateway, as
// kube-apiserver's endpoint reconciler does. A gateway advertising another
// address takes them over (the last gateway to start wins).
func (s *Server) bootstrapKubernetesService(ctx context.Context) error {
	n := s.svcnet
	if n.err != nil {
		return fmt.Errorf("service network: %w", n.err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: n.ips.First().String(),
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(n.port)}},
		},
	}
	if err := s.ensure(ctx, target{kind: serviceKind, namespace: "default"}, svc, nil); err != nil {
		return fmt.Errorf("the kubernetes Service: %w", err)
	}
	ip := n.advertise.String()
	port := []corev1.EndpointPort{{Name: "https", Port: n.port, Protocol: corev1.ProtocolTCP}}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: ip}}, Ports: port}},
	}
	same := func(cur, want runtime.Object) bool {
		return reflect.DeepEqual(cur.(*corev1.Endpoints).Subsets, want.(*corev1.Endpoints).Subsets)
	}
	if err := s.ensure(ctx, target{kind: endpointsKind, namespace: "default"}, ep, same); err != nil {
		return fmt.Errorf("the kubernetes Endpoints: %w", err)
	}
	family := discoveryv1.AddressTypeIPv4
	if n.advertise.Is6() {
		family = discoveryv1.AddressTypeIPv6
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: family,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(n.port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	sameSlice := func(cur, want runtime.Object) bool {
		c, w := cur.(*discoveryv1.EndpointSlice), want.(*discoveryv1.EndpointSlice)
		return c.AddressType == w.AddressType && reflect.DeepEqual(c.Endpoints, w.Endpoints) && reflect.DeepEqual(c.Ports, w.Ports)
	}
	if err := s.ensure(ctx, target{kind: endpointSliceKind, namespace: "default"}, slice, sameSlice); err != nil {
		return fmt.Errorf("the kubernetes EndpointSlice: %w", err)
	}
	return nil
}

// ensure creates obj when missing; when it exists and same (nil: always)
// says it differs, it replaces the object's content with obj's.
func (s *Server) ensure(ctx context.Context, t target, obj runtime.Object, same func(cur, want runtime.Object) bool) error {
	_, err := s.createObject(ctx, t, obj.DeepCopyObject(), false)
	switch {
	case !apierrors.IsAlreadyExists(err):
		return err
	case same == nil:
		return nil // exists: keep it as it is
	}
	t.name = accessor(obj).GetName()
	r := (&http.Request{URL: &url.URL{}}).WithContext(ctx)
	_, err = s.update(r, t, 0, func(cur runtime.Object) (runtime.Object, error) {
		if same(cur, obj) {
			return cur, nil
		}
		next := obj.DeepCopyObject()
		labels := map[string]string{}
		for _, o := range []runtime.Object{cur, obj} {
			for k, v := range accessor(o).GetLabels() {
				labels[k] = v
			}
		}
		accessor(next).SetLabels(labels)
		return next, nil
	})
	return err
}
