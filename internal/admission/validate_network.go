package admission

import (
	"net/netip"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var supportedPathTypes = []networkingv1.PathType{networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific, networkingv1.PathTypePrefix}

func validateIngress(ing *networkingv1.Ingress) field.ErrorList {
	s := &ing.Spec
	var errs field.ErrorList
	if len(s.Rules) == 0 && s.DefaultBackend == nil {
		errs = append(errs, field.Invalid(specPath, s.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if s.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(s.DefaultBackend, specPath.Child("defaultBackend"))...)
	}
	if s.IngressClassName != nil {
		errs = append(errs, namedBy(*s.IngressClassName, apivalidation.NameIsDNSSubdomain, specPath.Child("ingressClassName"))...)
	}
	for i, r := range s.Rules {
		idx := specPath.Child("rules").Index(i)
		if r.Host != "" {
			errs = append(errs, validateIngressHost(r.Host, idx.Child("host"))...)
		}
		if r.HTTP == nil {
			continue
		}
		pathsPath := idx.Child("http", "paths")
		if len(r.HTTP.Paths) == 0 {
			errs = append(errs, field.Required(pathsPath, ""))
		}
		for j, p := range r.HTTP.Paths {
			pp := pathsPath.Index(j)
			switch {
			case p.PathType == nil:
				errs = append(errs, field.Required(pp.Child("pathType"), "pathType must be specified"))
			case !containsValue(supportedPathTypes, *p.PathType):
				errs = append(errs, field.NotSupported(pp.Child("pathType"), *p.PathType, supportedPathTypes))
			case *p.PathType != networkingv1.PathTypeImplementationSpecific || p.Path != "":
				if !strings.HasPrefix(p.Path, "/") {
					errs = append(errs, field.Invalid(pp.Child("path"), p.Path, "must be an absolute path"))
				}
			}
			errs = append(errs, validateIngressBackend(&p.Backend, pp.Child("backend"))...)
		}
	}
	for i, t := range s.TLS {
		for j, h := range t.Hosts {
			errs = append(errs, validateIngressHost(h, specPath.Child("tls").Index(i).Child("hosts").Index(j))...)
		}
	}
	return errs
}

func validateIngressHost(host string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if _, err := netip.ParseAddr(host); err == nil {
		errs = append(errs, field.Invalid(fld, host, "must be a DNS name, not an IP address"))
	}
	check := validation.IsDNS1123Subdomain
	if strings.Contains(host, "*") {
		check = validation.IsWildcardDNS1123Subdomain
	}
	for _, msg := range check(host) {
		errs = append(errs, field.Invalid(fld, host, msg))
	}
	return errs
}

func validateIngressBackend(b *networkingv1.IngressBackend, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case b.Service != nil && b.Resource != nil:
		return field.ErrorList{field.Invalid(fld, "resource", "cannot set both resource and service backends")}
	case b.Resource != nil:
		if b.Resource.Kind == "" {
			errs = append(errs, field.Required(fld.Child("resource", "kind"), ""))
		}
		if b.Resource.Name == "" {
			errs = append(errs, field.Required(fld.Child("resource", "name"), ""))
		}
		return errs
	case b.Service == nil:
		return field.ErrorList{field.Invalid(fld, "", "one backend type must be specified")}
	}
	sp := fld.Child("service")
	if b.Service.Name == "" {
		errs = append(errs, field.Required(sp.Child("name"), ""))
	} else {
		errs = append(errs, dns1123Label(b.Service.Name, sp.Child("name"))...)
	}
	port := b.Service.Port
	switch {
	case port.Name != "" && port.Number != 0:
		errs = append(errs, field.Invalid(sp.Child("port"), port, "cannot set both port name & port number"))
	case port.Name != "":
		for _, msg := range validation.IsValidPortName(port.Name) {
			errs = append(errs, field.Invalid(sp.Child("port", "name"), port.Name, msg))
		}
	case port.Number != 0:
		for _, msg := range validation.IsValidPortNum(int(port.Number)) {
			errs = append(errs, field.Invalid(sp.Child("port", "number"), port.Number, msg))
		}
	default:
		errs = append(errs, field.Required(sp.Child("port"), "port name or number is required"))
	}
	return errs
}

func validateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	s := &np.Spec
	selOpts := metav1validation.LabelSelectorValidationOptions{}
	errs := metav1validation.ValidateLabelSelector(&s.PodSelector, selOpts, specPath.Child("podSelector"))
	for i, r := range s.Ingress {
		idx := specPath.Child("ingress").Index(i)
		errs = append(errs, validateNetworkPolicyPorts(r.Ports, idx.Child("ports"))...)
		for j := range r.From {
			errs = append(errs, validateNetworkPolicyPeer(&r.From[j], idx.Child("from").Index(j))...)
		}
	}
	for i, r := range s.Egress {
		idx := specPath.Child("egress").Index(i)
		errs = append(errs, validateNetworkPolicyPorts(r.Ports, idx.Child("ports"))...)
		for j := range r.To {
			errs = append(errs, validateNetworkPolicyPeer(&r.To[j], idx.Child("to").Index(j))...)
		}
	}
	supported := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
	for i, t := range s.PolicyTypes {
		if !containsValue(supported, t) {
			errs = append(errs, field.NotSupported(specPath.Child("policyTypes").Index(i), t, supported))
		}
	}
	if len(s.PolicyTypes) > len(supported) {
		errs = append(errs, field.Invalid(specPath.Child("policyTypes"), s.PolicyTypes, "may not specify more than two policyTypes"))
	}
	return errs
}

func validateNetworkPolicyPorts(ports []networkingv1.NetworkPolicyPort, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, p := range ports {
		idx := fld.Index(i)
		if p.Protocol != nil {
			errs = append(errs, validateProtocol(*p.Protocol, idx.Child("protocol"))...)
		}
		if p.Port != nil {
			errs = append(errs, validatePortNumOrName(*p.Port, idx.Child("port"))...)
		}
		if p.EndPort == nil {
			continue
		}
		switch {
		case p.Port == nil:
			errs = append(errs, field.Required(idx.Child("port"), "must be specified when endPort is specified"))
		case p.Port.Type != intstr.Int:
			errs = append(errs, field.Invalid(idx.Child("endPort"), *p.EndPort, "may not be specified when `port` is non-numeric"))
		case *p.EndPort < p.Port.IntVal:
			errs = append(errs, field.Invalid(idx.Child("endPort"), *p.EndPort, "must be greater than or equal to `port`"))
		}
	}
	return errs
}

func validateNetworkPolicyPeer(p *networkingv1.NetworkPolicyPeer, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	n := 0
	if p.PodSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(p.PodSelector, opts, fld.Child("podSelector"))...)
	}
	if p.NamespaceSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(p.NamespaceSelector, opts, fld.Child("namespaceSelector"))...)
	}
	if b := p.IPBlock; b != nil {
		if n > 0 {
			errs = append(errs, field.Forbidden(fld, "may not specify both ipBlock and another peer"))
		}
		n++
		cidrPath := fld.Child("ipBlock", "cidr")
		if b.CIDR == "" {
			errs = append(errs, field.Required(cidrPath, ""))
		} else {
			errs = append(errs, validation.IsValidCIDRForLegacyField(cidrPath, b.CIDR, true, nil)...)
		}
		outer, outerErr := netip.ParsePrefix(b.CIDR)
		for i, ex := range b.Except {
			ep := fld.Child("ipBlock", "except").Index(i)
			if cerrs := validation.IsValidCIDRForLegacyField(ep, ex, true, nil); len(cerrs) > 0 {
				errs = append(errs, cerrs...)
				continue
			}
			inner, err := netip.ParsePrefix(ex)
			if err == nil && outerErr == nil && (inner.Bits() <= outer.Bits() || !outer.Contains(inner.Addr())) {
				errs = append(errs, field.Invalid(ep, ex, "must be a strict subset of `cidr`"))
			}
		}
	}
	if n == 0 {
		errs = append(errs, field.Required(fld, "must specify a peer"))
	}
	return errs
}

func validatePDB(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	s := &pdb.Spec
	var errs field.ErrorList
	if s.MinAvailable != nil && s.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(specPath, s, "minAvailable and maxUnavailable cannot be both set"))
	}
	errs = append(errs, validatePositiveIntOrPercent(s.MinAvailable, specPath.Child("minAvailable"))...)
	errs = append(errs, notMoreThan100Percent(s.MinAvailable, specPath.Child("minAvailable"))...)
	errs = append(errs, validatePositiveIntOrPercent(s.MaxUnavailable, specPath.Child("maxUnavailable"))...)
	errs = append(errs, notMoreThan100Percent(s.MaxUnavailable, specPath.Child("maxUnavailable"))...)
	if s.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, specPath.Child("selector"))...)
	}
	if p := s.UnhealthyPodEvictionPolicy; p != nil {
		supported := []policyv1.UnhealthyPodEvictionPolicyType{policyv1.AlwaysAllow, policyv1.IfHealthyBudget}
		if !containsValue(supported, *p) {
			errs = append(errs, field.NotSupported(specPath.Child("unhealthyPodEvictionPolicy"), *p, supported))
		}
	}
	return errs
}
