package endpoints

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/wakehq/wake/services/reconcile"
)

// PodReady reports whether the pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Finished reports whether a pod's containers will not run again.
func Finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// PodIP is the pod's IP of the family wanted (IPv4 unless v6), or "".
func PodIP(p *corev1.Pod, v6 bool) string {
	ips := []string{p.Status.PodIP}
	for _, x := range p.Status.PodIPs {
		ips = append(ips, x.IP)
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Unmap().Is6() == v6 {
			return a.Unmap().String()
		}
	}
	return ""
}

// FindPort resolves a Service port's target port on a pod: a number as it
// is, a name by the pod's container ports of the same protocol.
func FindPort(p *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	switch sp.TargetPort.Type {
	case intstr.String:
		name := sp.TargetPort.StrVal
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				proto := cp.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				if cp.Name == name && proto == sp.Protocol {
					return cp.ContainerPort, nil
				}
			}
		}
		return 0, fmt.Errorf("no container port named %q on pod %s", name, p.Name)
	default:
		if sp.TargetPort.IntVal == 0 {
			return sp.Port, nil // unset: the Service port, as defaulting does
		}
		return sp.TargetPort.IntVal, nil
	}
}

// Selected returns the pods of svc's namespace its selector matches,
// sorted by name. A Service without a selector selects nothing (nil, false).
func Selected(view reconcile.View, svc *corev1.Service) ([]*corev1.Pod, bool) {
	if svc.Spec.Selector == nil {
		return nil, false
	}
	return reconcile.Selected[corev1.Pod](view, "", "pods", svc.Namespace, labels.SelectorFromSet(svc.Spec.Selector)), true
}

// Hostname is the hostname a pod has under svc: its spec.hostname when its
// subdomain names the Service.
func Hostname(p *corev1.Pod, svc *corev1.Service) string {
	if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name && p.Namespace == svc.Namespace {
		return p.Spec.Hostname
	}
	return ""
}
