package admission

import (
	"fmt"
	"math"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedPortProtocols = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
	supportedRestartPolicy = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	supportedDNSPolicy     = []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}
	supportedPullPolicy    = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	supportedURISchemes    = []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}
	supportedTaintEffects  = []corev1.TaintEffect{corev1.TaintEffectNoExecute, corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule}
	supportedContainerRP   = []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways, corev1.ContainerRestartPolicyNever, corev1.ContainerRestartPolicyOnFailure}
)

// fileModeErrorMsg is kube's wording for a volume file mode out of range.
const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// validatePod checks a Pod's spec; unlike a template's, its images may not
// have surrounding whitespace.
func validatePod(p *corev1.Pod) field.ErrorList {
	return validatePodSpec(&p.Spec, specPath, true)
}

// validatePodTemplate checks a pod template inside a workload.
func validatePodTemplate(t *corev1.PodTemplateSpec, fld *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(t.Labels, fld.Child("metadata", "labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, fld.Child("metadata", "annotations"))...)
	if len(t.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(fld.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return append(errs, validatePodSpec(&t.Spec, fld.Child("spec"), false)...)
}

func validatePodSpec(s *corev1.PodSpec, fld *field.Path, isPod bool) field.ErrorList {
	vols, errs := validateVolumes(s.Volumes, fld.Child("volumes"))
	names := sets.New[string]()
	errs = append(errs, validateContainers(s.InitContainers, fld.Child("initContainers"), vols, names, s, isPod, true)...)
	if len(s.Containers) == 0 {
		errs = append(errs, field.Required(fld.Child("containers"), ""))
	}
	errs = append(errs, validateContainers(s.Containers, fld.Child("containers"), vols, names, s, isPod, false)...)
	errs = append(errs, validateEphemeralContainers(s.EphemeralContainers, fld.Child("ephemeralContainers"), names)...)
	errs = append(errs, validateHostPorts(s, fld)...)
	errs = append(errs, validateRestartPolicy(s.RestartPolicy, fld.Child("restartPolicy"))...)
	errs = append(errs, validateDNSPolicy(s, fld)...)
	errs = append(errs, metav1validation.ValidateLabels(s.NodeSelector, fld.Child("nodeSelector"))...)
	errs = append(errs, validateTolerations(s.Tolerations, fld.Child("tolerations"))...)
	if s.ActiveDeadlineSeconds != nil {
		if v := *s.ActiveDeadlineSeconds; v < 1 || v > math.MaxInt32 {
			errs = append(errs, field.Invalid(fld.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	errs = append(errs, namedBy(s.ServiceAccountName, apivalidation.ValidateServiceAccountName, fld.Child("serviceAccountName"))...)
	errs = append(errs, namedBy(s.NodeName, apivalidation.NameIsDNSSubdomain, fld.Child("nodeName"))...)
	errs = append(errs, namedBy(s.PriorityClassName, apivalidation.NameIsDNSSubdomain, fld.Child("priorityClassName"))...)
	if s.SchedulerName != "" {
		errs = append(errs, dns1123Subdomain(s.SchedulerName, fld.Child("schedulerName"))...)
	}
	if s.Hostname != "" {
		errs = append(errs, dns1123Label(s.Hostname, fld.Child("hostname"))...)
	}
	if s.Subdomain != "" {
		errs = append(errs, dns1123Label(s.Subdomain, fld.Child("subdomain"))...)
	}
	for i, ref := range s.ImagePullSecrets {
		if ref.Name == "" {
			errs = append(errs, field.Required(fld.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	for i, ha := range s.HostAliases {
		errs = append(errs, validation.IsValidIPForLegacyField(fld.Child("hostAliases").Index(i).Child("ip"), ha.IP, true, nil)...)
	}
	if s.PreemptionPolicy != nil {
		errs = append(errs, validatePreemptionPolicy(*s.PreemptionPolicy, fld.Child("preemptionPolicy"))...)
	}
	errs = append(errs, validatePodSecurityContext(s.SecurityContext, fld.Child("securityContext"))...)
	errs = append(errs, validateTopologySpread(s.TopologySpreadConstraints, fld.Child("topologySpreadConstraints"))...)
	errs = append(errs, validateResourceList(s.Overhead, fld.Child("overhead"))...)
	return errs
}

// namedBy checks an optional reference to another object by its name rule.
func namedBy(name string, rule apivalidation.ValidateNameFunc, fld *field.Path) field.ErrorList {
	if name == "" {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range rule(name, false) {
		errs = append(errs, field.Invalid(fld, name, msg))
	}
	return errs
}

func dns1123Label(v string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(v) {
		errs = append(errs, field.Invalid(fld, v, msg))
	}
	return errs
}

func dns1123Subdomain(v string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(v) {
		errs = append(errs, field.Invalid(fld, v, msg))
	}
	return errs
}

func validateRestartPolicy(p corev1.RestartPolicy, fld *field.Path) field.ErrorList {
	switch p {
	case corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
		return nil
	case "":
		return field.ErrorList{field.Required(fld, "")}
	}
	return field.ErrorList{field.NotSupported(fld, p, supportedRestartPolicy)}
}

func validateDNSPolicy(s *corev1.PodSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch s.DNSPolicy {
	case corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault:
	case corev1.DNSNone:
		if s.DNSConfig == nil {
			errs = append(errs, field.Required(fld.Child("dnsConfig"), fmt.Sprintf("must provide `dnsConfig` when `dnsPolicy` is %s", corev1.DNSNone)))
		} else if len(s.DNSConfig.Nameservers) == 0 {
			errs = append(errs, field.Required(fld.Child("dnsConfig", "nameservers"), fmt.Sprintf("must provide at least one DNS nameserver when `dnsPolicy` is %s", corev1.DNSNone)))
		}
	case "":
		errs = append(errs, field.Required(fld.Child("dnsPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(fld.Child("dnsPolicy"), s.DNSPolicy, supportedDNSPolicy))
	}
	if c := s.DNSConfig; c != nil {
		for i, ns := range c.Nameservers {
			errs = append(errs, validation.IsValidIPForLegacyField(fld.Child("dnsConfig", "nameservers").Index(i), ns, true, nil)...)
		}
		for i, o := range c.Options {
			if o.Name == "" {
				errs = append(errs, field.Required(fld.Child("dnsConfig", "options").Index(i), "Option.Name must not be empty"))
			}
		}
	}
	return errs
}

func validateTolerations(ts []corev1.Toleration, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		idx := fld.Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, idx.Child("key"))...)
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(idx.Child("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(idx.Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			for _, msg := range validation.IsValidLabelValue(t.Value) {
				errs = append(errs, field.Invalid(idx.Child("operator"), t.Value, msg))
			}
		case corev1.TolerationOpExists:
			if t.Value != "" {
				errs = append(errs, field.Invalid(idx.Child("operator"), t, "value must be empty when `operator` is 'Exists'"))
			}
		case corev1.TolerationOpLt, corev1.TolerationOpGt:
			if _, err := strconv.ParseInt(t.Value, 10, 64); err != nil {
				errs = append(errs, field.Invalid(idx.Child("value"), t.Value, "must be a valid integer when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			errs = append(errs, field.NotSupported(idx.Child("operator"), t.Operator,
				[]corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists, corev1.TolerationOpLt, corev1.TolerationOpGt}))
		}
		if t.Effect != "" {
			errs = append(errs, validateTaintEffect(t.Effect, idx.Child("effect"))...)
		}
	}
	return errs
}

func validateTaintEffect(e corev1.TaintEffect, fld *field.Path) field.ErrorList {
	switch e {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		return nil
	}
	return field.ErrorList{field.NotSupported(fld, e, supportedTaintEffects)}
}

func validatePodSecurityContext(sc *corev1.PodSecurityContext, fld *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	var errs field.ErrorList
	errs = append(errs, validateID(sc.RunAsUser, validation.IsValidUserID, fld.Child("runAsUser"))...)
	errs = append(errs, validateID(sc.RunAsGroup, validation.IsValidGroupID, fld.Child("runAsGroup"))...)
	errs = append(errs, validateID(sc.FSGroup, validation.IsValidGroupID, fld.Child("fsGroup"))...)
	for i, g := range sc.SupplementalGroups {
		for _, msg := range validation.IsValidGroupID(g) {
			errs = append(errs, field.Invalid(fld.Child("supplementalGroups").Index(i), g, msg))
		}
	}
	return errs
}

func validateID(id *int64, check func(int64) []string, fld *field.Path) field.ErrorList {
	if id == nil {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range check(*id) {
		errs = append(errs, field.Invalid(fld, *id, msg))
	}
	return errs
}

func validateTopologySpread(cs []corev1.TopologySpreadConstraint, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, c := range cs {
		idx := fld.Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(idx.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			errs = append(errs, field.Required(idx.Child("topologyKey"), "can not be empty"))
		} else {
			errs = append(errs, metav1validation.ValidateLabelName(c.TopologyKey, idx.Child("topologyKey"))...)
		}
		switch c.WhenUnsatisfiable {
		case corev1.DoNotSchedule, corev1.ScheduleAnyway:
		default:
			errs = append(errs, field.NotSupported(idx.Child("whenUnsatisfiable"), c.WhenUnsatisfiable,
				[]corev1.UnsatisfiableConstraintAction{corev1.DoNotSchedule, corev1.ScheduleAnyway}))
		}
		key := c.TopologyKey + "/" + string(c.WhenUnsatisfiable)
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(idx, fmt.Sprintf("{%v, %v}", c.TopologyKey, c.WhenUnsatisfiable)))
		}
		seen.Insert(key)
		if c.LabelSelector != nil {
			errs = append(errs, metav1validation.ValidateLabelSelector(c.LabelSelector, metav1validation.LabelSelectorValidationOptions{}, idx.Child("labelSelector"))...)
		}
	}
	return errs
}
