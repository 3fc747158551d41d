package admission

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The default node port range, as kube-apiserver's --service-node-port-range.
const (
	nodePortMin = 30000
	nodePortMax = 32767
)

var supportedServiceTypes = []corev1.ServiceType{
	corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort,
}

func isIPv6(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.Is6() && !a.Is4In6()
}

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}

func validateService(svc *corev1.Service) field.ErrorList {
	s := &svc.Spec
	var errs field.ErrorList
	if len(s.Ports) == 0 && !isHeadless(svc) && s.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(specPath.Child("ports"), ""))
	}
	switch s.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
	case corev1.ServiceTypeExternalName:
		if s.ClusterIP != "" {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		if cname := strings.TrimSuffix(s.ExternalName, "."); cname != "" {
			errs = append(errs, dns1123Subdomain(cname, specPath.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		}
	case "":
		errs = append(errs, field.Required(specPath.Child("type"), ""))
	default:
		errs = append(errs, field.NotSupported(specPath.Child("type"), s.Type, supportedServiceTypes))
	}
	errs = append(errs, validateServicePorts(svc)...)
	errs = append(errs, metav1validation.ValidateLabels(s.Selector, specPath.Child("selector"))...)
	errs = append(errs, validateSessionAffinity(s)...)
	errs = append(errs, validateClusterIPs(svc)...)
	for i, ip := range s.ExternalIPs {
		errs = append(errs, validation.IsValidIPForLegacyField(specPath.Child("externalIPs").Index(i), ip, true, nil)...)
	}
	if len(s.LoadBalancerSourceRanges) > 0 && s.Type != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(specPath.Child("loadBalancerSourceRanges"), "may only be used when `type` is 'LoadBalancer'"))
	}
	for i, r := range s.LoadBalancerSourceRanges {
		errs = append(errs, validation.IsValidCIDRForLegacyField(specPath.Child("loadBalancerSourceRanges").Index(i), strings.TrimSpace(r), true, nil)...)
	}
	errs = append(errs, validateTrafficPolicies(svc)...)
	return errs
}

func validateServicePorts(svc *corev1.Service) field.ErrorList {
	s := &svc.Spec
	var errs field.ErrorList
	names := sets.New[string]()
	ports := sets.New[string]()
	nodePorts := sets.New[string]()
	requireName := len(s.Ports) > 1
	for i := range s.Ports {
		p := &s.Ports[i]
		idx := specPath.Child("ports").Index(i)
		if p.Name == "" {
			if requireName {
				errs = append(errs, field.Required(idx.Child("name"), ""))
			}
		} else {
			errs = append(errs, dns1123Label(p.Name, idx.Child("name"))...)
			if names.Has(p.Name) {
				errs = append(errs, field.Duplicate(idx.Child("name"), p.Name))
			}
			names.Insert(p.Name)
		}
		for _, msg := range validation.IsValidPortNum(int(p.Port)) {
			errs = append(errs, field.Invalid(idx.Child("port"), p.Port, msg))
		}
		errs = append(errs, validateProtocol(p.Protocol, idx.Child("protocol"))...)
		errs = append(errs, validatePortNumOrName(p.TargetPort, idx.Child("targetPort"))...)
		if p.AppProtocol != nil {
			errs = append(errs, qualifiedName(*p.AppProtocol, idx.Child("appProtocol"))...)
		}
		key := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if ports.Has(key) {
			errs = append(errs, field.Duplicate(idx, fmt.Sprintf("{%d, %s}", p.Port, p.Protocol)))
		}
		ports.Insert(key)
		if p.NodePort == 0 {
			continue
		}
		if s.Type == corev1.ServiceTypeClusterIP {
			errs = append(errs, field.Forbidden(idx.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			continue
		}
		if p.NodePort < nodePortMin || p.NodePort > nodePortMax {
			errs = append(errs, field.Invalid(idx.Child("nodePort"), p.NodePort,
				fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", nodePortMin, nodePortMax)))
		}
		nk := fmt.Sprintf("%d/%s", p.NodePort, p.Protocol)
		if nodePorts.Has(nk) {
			errs = append(errs, field.Duplicate(idx.Child("nodePort"), p.NodePort))
		}
		nodePorts.Insert(nk)
	}
	return errs
}

func validateSessionAffinity(s *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	fld := specPath.Child("sessionAffinity")
	switch s.SessionAffinity {
	case corev1.ServiceAffinityNone:
		if s.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(specPath.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	case corev1.ServiceAffinityClientIP:
		c := s.SessionAffinityConfig
		if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			errs = append(errs, field.Required(specPath.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), ""))
		} else if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPServiceAffinitySeconds {
			errs = append(errs, field.Invalid(specPath.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t,
				fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPServiceAffinitySeconds)))
		}
	case "":
		errs = append(errs, field.Required(fld, ""))
	default:
		errs = append(errs, field.NotSupported(fld, s.SessionAffinity, []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}))
	}
	return errs
}

func validateClusterIPs(svc *corev1.Service) field.ErrorList {
	s := &svc.Spec
	if s.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var errs field.ErrorList
	if s.ClusterIP != "" && len(s.ClusterIPs) > 0 && s.ClusterIP != s.ClusterIPs[0] {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), s.ClusterIPs[0], "must be equal to clusterIP"))
	}
	ips := s.ClusterIPs
	if len(ips) == 0 && s.ClusterIP != "" {
		ips = []string{s.ClusterIP}
	}
	for i, ip := range ips {
		fld := specPath.Child("clusterIPs").Index(i)
		if i == 0 && len(s.ClusterIPs) == 0 {
			fld = specPath.Child("clusterIP")
		}
		if ip == corev1.ClusterIPNone {
			if i > 0 || len(ips) > 1 {
				errs = append(errs, field.Invalid(fld, ip, "'None' must be the first and only value"))
			}
			switch s.Type {
			case corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
				errs = append(errs, field.Invalid(fld, ip, fmt.Sprintf("may not be set to 'None' for %s services", s.Type)))
			}
			continue
		}
		errs = append(errs, validation.IsValidIPForLegacyField(fld, ip, true, nil)...)
	}
	if len(ips) > 2 {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs"), ips, "may only hold up to 2 values"))
	}
	if p := s.IPFamilyPolicy; p != nil {
		switch *p {
		case corev1.IPFamilyPolicySingleStack:
			if len(s.IPFamilies) > 1 {
				errs = append(errs, field.Invalid(specPath.Child("ipFamilies"), s.IPFamilies, "must be a single value when `ipFamilyPolicy` is 'SingleStack'"))
			}
		case corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack:
		default:
			errs = append(errs, field.NotSupported(specPath.Child("ipFamilyPolicy"), *p, []corev1.IPFamilyPolicy{
				corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}))
		}
	}
	seen := sets.New[corev1.IPFamily]()
	for i, f := range s.IPFamilies {
		fld := specPath.Child("ipFamilies").Index(i)
		if f != corev1.IPv4Protocol && f != corev1.IPv6Protocol {
			errs = append(errs, field.NotSupported(fld, f, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}))
		} else if seen.Has(f) {
			errs = append(errs, field.Duplicate(fld, f))
		}
		seen.Insert(f)
	}
	return errs
}

func validateTrafficPolicies(svc *corev1.Service) field.ErrorList {
	s := &svc.Spec
	var errs field.ErrorList
	etp := specPath.Child("externalTrafficPolicy")
	if !externallyAccessible(svc) {
		if s.ExternalTrafficPolicy != "" {
			errs = append(errs, field.Invalid(etp, s.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
		}
	} else {
		switch s.ExternalTrafficPolicy {
		case corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal:
		case "":
			errs = append(errs, field.Required(etp, ""))
		default:
			errs = append(errs, field.NotSupported(etp, s.ExternalTrafficPolicy, []corev1.ServiceExternalTrafficPolicy{
				corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}))
		}
	}
	if s.HealthCheckNodePort != 0 && (s.Type != corev1.ServiceTypeLoadBalancer || s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal) {
		errs = append(errs, field.Invalid(specPath.Child("healthCheckNodePort"), s.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	}
	itp := specPath.Child("internalTrafficPolicy")
	if s.Type != corev1.ServiceTypeExternalName {
		switch {
		case s.InternalTrafficPolicy == nil:
			errs = append(errs, field.Required(itp, ""))
		case *s.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyCluster && *s.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal:
			errs = append(errs, field.NotSupported(itp, *s.InternalTrafficPolicy, []corev1.ServiceInternalTrafficPolicy{
				corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}))
		}
	}
	return errs
}

// validateServiceUpdate keeps an allocated cluster IP: it may not change
// while the service keeps one, that is unless it turns into or out of an
// ExternalName service. Other type changes are allowed.
func validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	if old.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.ClusterIP == "" {
		return nil
	}
	errs := immutable(svc.Spec.ClusterIP, old.Spec.ClusterIP, specPath.Child("clusterIP"))
	if len(old.Spec.ClusterIPs) > 0 && len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] != old.Spec.ClusterIPs[0] {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), svc.Spec.ClusterIPs[0], "may not change once set"))
	}
	return errs
}

func validateEndpoints(e *corev1.Endpoints) field.ErrorList {
	var errs field.ErrorList
	for i := range e.Subsets {
		ss := &e.Subsets[i]
		idx := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(idx, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(&ss.Addresses[j], idx.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(&ss.NotReadyAddresses[j], idx.Child("notReadyAddresses").Index(j))...)
		}
		names := sets.New[string]()
		for j, p := range ss.Ports {
			pi := idx.Child("ports").Index(j)
			if p.Name == "" {
				if len(ss.Ports) > 1 {
					errs = append(errs, field.Required(pi.Child("name"), ""))
				}
			} else {
				errs = append(errs, dns1123Label(p.Name, pi.Child("name"))...)
				if names.Has(p.Name) {
					errs = append(errs, field.Duplicate(pi.Child("name"), p.Name))
				}
				names.Insert(p.Name)
			}
			for _, msg := range validation.IsValidPortNum(int(p.Port)) {
				errs = append(errs, field.Invalid(pi.Child("port"), p.Port, msg))
			}
			errs = append(errs, validateProtocol(p.Protocol, pi.Child("protocol"))...)
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, fld *field.Path) field.ErrorList {
	errs := validation.IsValidIPForLegacyField(fld.Child("ip"), a.IP, true, nil)
	if a.Hostname != "" {
		errs = append(errs, dns1123Label(a.Hostname, fld.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, namedBy(*a.NodeName, nodeNameRule, fld.Child("nodeName"))...)
	}
	return errs
}

var supportedAddressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN}

// Limits of an EndpointSlice, as kube sets them.
const (
	maxSliceEndpoints = 1000
	maxSliceAddresses = 100
	maxSlicePorts     = 20000
)

func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	atPath := field.NewPath("addressType")
	switch s.AddressType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN:
	case "":
		errs = append(errs, field.Required(atPath, ""))
	default:
		errs = append(errs, field.NotSupported(atPath, s.AddressType, supportedAddressTypes))
	}
	epPath := field.NewPath("endpoints")
	if len(s.Endpoints) > maxSliceEndpoints {
		errs = append(errs, field.TooMany(epPath, len(s.Endpoints), maxSliceEndpoints))
	}
	for i := range s.Endpoints {
		ep := &s.Endpoints[i]
		idx := epPath.Index(i)
		ap := idx.Child("addresses")
		switch {
		case len(ep.Addresses) == 0:
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		case len(ep.Addresses) > maxSliceAddresses:
			errs = append(errs, field.TooMany(ap, len(ep.Addresses), maxSliceAddresses))
		}
		for j, addr := range ep.Addresses {
			switch s.AddressType {
			case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
				aerrs := validation.IsValidIPForLegacyField(ap.Index(j), addr, true, nil)
				if len(aerrs) == 0 && isIPv6(addr) != (s.AddressType == discoveryv1.AddressTypeIPv6) {
					aerrs = append(aerrs, field.Invalid(ap.Index(j), addr, "must be an "+string(s.AddressType)+" address"))
				}
				errs = append(errs, aerrs...)
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, validation.IsFullyQualifiedDomainName(ap.Index(j), addr)...)
			}
		}
		if ep.Hostname != nil {
			errs = append(errs, dns1123Label(*ep.Hostname, idx.Child("hostname"))...)
		}
		if ep.NodeName != nil {
			errs = append(errs, namedBy(*ep.NodeName, nodeNameRule, idx.Child("nodeName"))...)
		}
	}
	pPath := field.NewPath("ports")
	if len(s.Ports) > maxSlicePorts {
		errs = append(errs, field.TooMany(pPath, len(s.Ports), maxSlicePorts))
	}
	names := sets.New[string]()
	for i, p := range s.Ports {
		idx := pPath.Index(i)
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if name != "" {
			errs = append(errs, dns1123Label(name, idx.Child("name"))...)
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(idx.Child("name"), name))
		}
		names.Insert(name)
		if p.Protocol == nil {
			errs = append(errs, field.Required(idx.Child("protocol"), ""))
		} else {
			errs = append(errs, validateProtocol(*p.Protocol, idx.Child("protocol"))...)
		}
		if p.Port != nil {
			for _, msg := range validation.IsValidPortNum(int(*p.Port)) {
				errs = append(errs, field.Invalid(idx.Child("port"), *p.Port, msg))
			}
		}
		if p.AppProtocol != nil {
			errs = append(errs, qualifiedName(*p.AppProtocol, idx.Child("appProtocol"))...)
		}
	}
	return errs
}
