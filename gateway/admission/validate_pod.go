package admission

import (
	"fmt"
	"math"
	"path"
	"reflect"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedPortProtocols = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
	supportedRestartPolicy = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	supportedDNSPolicy     = []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}
	supportedPullPolicy    = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	supportedTermMsgPolicy = []corev1.TerminationMessagePolicy{corev1.TerminationMessageFallbackToLogsOnError, corev1.TerminationMessageReadFile}
	supportedURISchemes    = []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}
	supportedTaintEffects  = []corev1.TaintEffect{corev1.TaintEffectNoExecute, corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule}
	supportedContainerRP   = []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways, corev1.ContainerRestartPolicyNever, corev1.ContainerRestartPolicyOnFailure}
)

// fileModeErrorMsg is kube's wording for a volume file mode out of range.
const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// validatePod checks a Pod's spec; unlike a template's, its containers must
// name an image.
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

// validateContainers checks init or regular containers; names collects
// container names across both lists, which must be unique together.
func validateContainers(cs []corev1.Container, fld *field.Path, vols map[string]corev1.VolumeSource, names sets.Set[string], s *corev1.PodSpec, isPod, isInit bool) field.ErrorList {
	var errs field.ErrorList
	for i := range cs {
		c := &cs[i]
		idx := fld.Index(i)
		if c.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else {
			errs = append(errs, dns1123Label(c.Name, idx.Child("name"))...)
			if names.Has(c.Name) {
				errs = append(errs, field.Duplicate(idx.Child("name"), c.Name))
			}
			names.Insert(c.Name)
		}
		errs = append(errs, validateContainer(c, idx, vols, s, isPod)...)
		sidecar := isInit && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		if c.RestartPolicy != nil {
			if isInit && !sidecar {
				errs = append(errs, field.NotSupported(idx.Child("restartPolicy"), *c.RestartPolicy, []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}))
			} else if !isInit && !containsValue(supportedContainerRP, *c.RestartPolicy) {
				errs = append(errs, field.NotSupported(idx.Child("restartPolicy"), *c.RestartPolicy, supportedContainerRP))
			}
		}
		if isInit && !sidecar {
			const msg = "may not be set for init containers without restartPolicy=Always"
			if c.Lifecycle != nil {
				errs = append(errs, field.Forbidden(idx.Child("lifecycle"), msg))
			}
			if c.LivenessProbe != nil {
				errs = append(errs, field.Forbidden(idx.Child("livenessProbe"), msg))
			}
			if c.ReadinessProbe != nil {
				errs = append(errs, field.Forbidden(idx.Child("readinessProbe"), msg))
			}
			if c.StartupProbe != nil {
				errs = append(errs, field.Forbidden(idx.Child("startupProbe"), msg))
			}
		}
	}
	return errs
}

func containsValue[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func validateEphemeralContainers(cs []corev1.EphemeralContainer, fld *field.Path, names sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	for i := range cs {
		idx := fld.Index(i)
		c := &cs[i]
		if c.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
			continue
		}
		errs = append(errs, dns1123Label(c.Name, idx.Child("name"))...)
		if names.Has(c.Name) {
			errs = append(errs, field.Duplicate(idx.Child("name"), c.Name))
		}
		names.Insert(c.Name)
		if c.Image == "" {
			errs = append(errs, field.Required(idx.Child("image"), ""))
		}
	}
	return errs
}

func validateContainer(c *corev1.Container, idx *field.Path, vols map[string]corev1.VolumeSource, s *corev1.PodSpec, isPod bool) field.ErrorList {
	var errs field.ErrorList
	if isPod {
		if c.Image == "" {
			errs = append(errs, field.Required(idx.Child("image"), ""))
		} else if c.Image != strings.TrimSpace(c.Image) {
			errs = append(errs, field.Invalid(idx.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
	}
	switch c.ImagePullPolicy {
	case corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	case "":
		errs = append(errs, field.Required(idx.Child("imagePullPolicy"), ""))
	default:
		errs = append(errs, field.NotSupported(idx.Child("imagePullPolicy"), c.ImagePullPolicy, supportedPullPolicy))
	}
	switch c.TerminationMessagePolicy {
	case corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError:
	case "":
		errs = append(errs, field.Required(idx.Child("terminationMessagePolicy"), "must be 'File' or 'FallbackToLogsOnError'"))
	default:
		errs = append(errs, field.NotSupported(idx.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, supportedTermMsgPolicy))
	}
	errs = append(errs, validateContainerPorts(c.Ports, idx.Child("ports"))...)
	errs = append(errs, validateEnv(c.Env, idx.Child("env"))...)
	errs = append(errs, validateEnvFrom(c.EnvFrom, idx.Child("envFrom"))...)
	errs = append(errs, validateVolumeMounts(c, vols, idx)...)
	errs = append(errs, validateResources(&c.Resources, idx.Child("resources"))...)
	errs = append(errs, validateProbe(c.LivenessProbe, idx.Child("livenessProbe"), true)...)
	errs = append(errs, validateProbe(c.ReadinessProbe, idx.Child("readinessProbe"), false)...)
	errs = append(errs, validateProbe(c.StartupProbe, idx.Child("startupProbe"), true)...)
	if l := c.Lifecycle; l != nil {
		grace := s.TerminationGracePeriodSeconds
		if l.PostStart != nil {
			errs = append(errs, validateHandler(lifecycleHandler(l.PostStart), grace, idx.Child("lifecycle", "postStart"))...)
		}
		if l.PreStop != nil {
			errs = append(errs, validateHandler(lifecycleHandler(l.PreStop), grace, idx.Child("lifecycle", "preStop"))...)
		}
	}
	if sc := c.SecurityContext; sc != nil {
		errs = append(errs, validateID(sc.RunAsUser, validation.IsValidUserID, idx.Child("securityContext", "runAsUser"))...)
		errs = append(errs, validateID(sc.RunAsGroup, validation.IsValidGroupID, idx.Child("securityContext", "runAsGroup"))...)
		if sc.Privileged != nil && *sc.Privileged && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			errs = append(errs, field.Invalid(idx.Child("securityContext"), sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
	}
	return errs
}

func validateContainerPorts(ports []corev1.ContainerPort, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, p := range ports {
		idx := fld.Index(i)
		if p.Name != "" {
			if msgs := validation.IsValidPortName(p.Name); len(msgs) != 0 {
				for _, msg := range msgs {
					errs = append(errs, field.Invalid(idx.Child("name"), p.Name, msg))
				}
			} else if names.Has(p.Name) {
				errs = append(errs, field.Duplicate(idx.Child("name"), p.Name))
			} else {
				names.Insert(p.Name)
			}
		}
		if p.ContainerPort == 0 {
			errs = append(errs, field.Required(idx.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(p.ContainerPort)) {
				errs = append(errs, field.Invalid(idx.Child("containerPort"), p.ContainerPort, msg))
			}
		}
		if p.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(p.HostPort)) {
				errs = append(errs, field.Invalid(idx.Child("hostPort"), p.HostPort, msg))
			}
		}
		errs = append(errs, validateProtocol(p.Protocol, idx.Child("protocol"))...)
		if p.HostIP != "" {
			errs = append(errs, validation.IsValidIPForLegacyField(idx.Child("hostIP"), p.HostIP, true, nil)...)
		}
	}
	return errs
}

func validateProtocol(p corev1.Protocol, fld *field.Path) field.ErrorList {
	switch p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	case "":
		return field.ErrorList{field.Required(fld, "")}
	}
	return field.ErrorList{field.NotSupported(fld, p, supportedPortProtocols)}
}

// validateHostPorts checks that no two containers claim the same host port
// and protocol, and that under host networking host ports equal container
// ports.
func validateHostPorts(s *corev1.PodSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	check := func(cs []corev1.Container, list *field.Path) {
		for i := range cs {
			for j, p := range cs[i].Ports {
				idx := list.Index(i).Child("ports").Index(j)
				if s.HostNetwork && p.HostPort != 0 && p.HostPort != p.ContainerPort {
					errs = append(errs, field.Invalid(idx.Child("containerPort"), p.ContainerPort, "must match `hostPort` when `hostNetwork` is true"))
				}
				if p.HostPort == 0 {
					continue
				}
				key := fmt.Sprintf("%s/%s/%d", p.HostIP, p.Protocol, p.HostPort)
				if seen.Has(key) {
					errs = append(errs, field.Duplicate(idx.Child("hostPort"), fmt.Sprintf("%s/%d", p.Protocol, p.HostPort)))
				}
				seen.Insert(key)
			}
		}
	}
	check(s.InitContainers, fld.Child("initContainers"))
	check(s.Containers, fld.Child("containers"))
	return errs
}

var envFieldPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

var volumeFieldPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"}

var resourceFieldRefs = []string{
	"limits.cpu", "limits.ephemeral-storage", "limits.memory",
	"requests.cpu", "requests.ephemeral-storage", "requests.memory",
}

func validateEnv(env []corev1.EnvVar, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range env {
		idx := fld.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else {
			for _, msg := range validation.IsRelaxedEnvVarName(ev.Name) {
				errs = append(errs, field.Invalid(idx.Child("name"), ev.Name, msg))
			}
		}
		errs = append(errs, validateEnvVarValueFrom(ev, idx.Child("valueFrom"))...)
	}
	return errs
}

func validateEnvVarValueFrom(ev corev1.EnvVar, fld *field.Path) field.ErrorList {
	vf := ev.ValueFrom
	if vf == nil {
		return nil
	}
	var errs field.ErrorList
	n := 0
	if vf.FieldRef != nil {
		n++
		errs = append(errs, validateFieldSelector(vf.FieldRef, envFieldPaths, fld.Child("fieldRef"))...)
	}
	if vf.ResourceFieldRef != nil {
		n++
		errs = append(errs, validateResourceFieldSelector(vf.ResourceFieldRef, false, fld.Child("resourceFieldRef"))...)
	}
	if vf.ConfigMapKeyRef != nil {
		n++
		errs = append(errs, validateKeyRef(vf.ConfigMapKeyRef.Name, vf.ConfigMapKeyRef.Key, fld.Child("configMapKeyRef"))...)
	}
	if vf.SecretKeyRef != nil {
		n++
		errs = append(errs, validateKeyRef(vf.SecretKeyRef.Name, vf.SecretKeyRef.Key, fld.Child("secretKeyRef"))...)
	}
	if vf.FileKeyRef != nil {
		n++
		if vf.FileKeyRef.Key == "" {
			errs = append(errs, field.Required(fld.Child("fileKeyRef", "key"), ""))
		}
		if vf.FileKeyRef.VolumeName == "" {
			errs = append(errs, field.Required(fld.Child("fileKeyRef", "volumeName"), ""))
		}
	}
	switch {
	case n == 0:
		errs = append(errs, field.Invalid(fld, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case ev.Value != "":
		errs = append(errs, field.Invalid(fld, "", "may not be specified when `value` is not empty"))
	case n > 1:
		errs = append(errs, field.Invalid(fld, "", "may not have more than one field specified at a time"))
	}
	return errs
}

func validateFieldSelector(fs *corev1.ObjectFieldSelector, allowed []string, fld *field.Path) field.ErrorList {
	if fs.APIVersion == "" {
		return field.ErrorList{field.Required(fld.Child("apiVersion"), "")}
	}
	if fs.FieldPath == "" {
		return field.ErrorList{field.Required(fld.Child("fieldPath"), "")}
	}
	if fs.APIVersion != "v1" {
		return field.ErrorList{field.Invalid(fld.Child("fieldPath"), fs.FieldPath,
			fmt.Sprintf("error converting fieldPath: unsupported pod version: %s", fs.APIVersion))}
	}
	if p, sub, ok := splitSubscript(fs.FieldPath); ok {
		switch p {
		case "metadata.annotations":
			return qualifiedName(strings.ToLower(sub), fld)
		case "metadata.labels":
			return qualifiedName(sub, fld)
		}
		return field.ErrorList{field.Invalid(fld, p, "does not support subscript")}
	}
	if !containsValue(allowed, fs.FieldPath) {
		return field.ErrorList{field.NotSupported(fld.Child("fieldPath"), fs.FieldPath, allowed)}
	}
	return nil
}

// splitSubscript splits "metadata.labels['key']" into its path and key.
func splitSubscript(p string) (string, string, bool) {
	if !strings.HasSuffix(p, "']") {
		return p, "", false
	}
	s := strings.TrimSuffix(p, "']")
	i := strings.Index(s, "['")
	if i < 0 {
		return p, "", false
	}
	if len(s[i+2:]) == 0 {
		return p, "", false
	}
	return s[:i], s[i+2:], true
}

func qualifiedName(v string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(v) {
		errs = append(errs, field.Invalid(fld, v, msg))
	}
	return errs
}

func validateResourceFieldSelector(fs *corev1.ResourceFieldSelector, needContainer bool, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if needContainer && fs.ContainerName == "" {
		errs = append(errs, field.Required(fld.Child("containerName"), ""))
	}
	switch {
	case fs.Resource == "":
		errs = append(errs, field.Required(fld.Child("resource"), ""))
	case strings.HasPrefix(fs.Resource, "limits.hugepages-"), strings.HasPrefix(fs.Resource, "requests.hugepages-"):
	case !containsValue(resourceFieldRefs, fs.Resource):
		errs = append(errs, field.NotSupported(fld.Child("resource"), fs.Resource, resourceFieldRefs))
	}
	if fs.Divisor.Sign() < 0 {
		errs = append(errs, field.Invalid(fld.Child("divisor"), fs.Divisor.String(), apivalidation.IsNegativeErrorMsg))
	}
	return errs
}

func validateKeyRef(name, key string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(fld.Child("name"), ""))
	}
	if key == "" {
		errs = append(errs, field.Required(fld.Child("key"), ""))
	} else {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(fld.Child("key"), key, msg))
		}
	}
	return errs
}

func validateEnvFrom(from []corev1.EnvFromSource, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ef := range from {
		idx := fld.Index(i)
		if ef.Prefix != "" {
			for _, msg := range validation.IsRelaxedEnvVarName(ef.Prefix) {
				errs = append(errs, field.Invalid(idx.Child("prefix"), ef.Prefix, msg))
			}
		}
		n := 0
		if ef.ConfigMapRef != nil {
			n++
			if ef.ConfigMapRef.Name == "" {
				errs = append(errs, field.Required(idx.Child("configMapRef", "name"), ""))
			}
		}
		if ef.SecretRef != nil {
			n++
			if ef.SecretRef.Name == "" {
				errs = append(errs, field.Required(idx.Child("secretRef", "name"), ""))
			}
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(idx, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(idx, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

func validateVolumeMounts(c *corev1.Container, vols map[string]corev1.VolumeSource, idx *field.Path) field.ErrorList {
	var errs field.ErrorList
	mountPaths := sets.New[string]()
	fld := idx.Child("volumeMounts")
	for i, m := range c.VolumeMounts {
		mi := fld.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(mi.Child("name"), ""))
		} else if _, ok := vols[m.Name]; !ok {
			errs = append(errs, field.NotFound(mi.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(mi.Child("mountPath"), ""))
		} else if mountPaths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(mi.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mountPaths.Insert(m.MountPath)
		if m.SubPath != "" {
			errs = append(errs, validateLocalDescendingPath(m.SubPath, mi.Child("subPath"))...)
		}
		if m.SubPath != "" && m.SubPathExpr != "" {
			errs = append(errs, field.Invalid(mi.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
		}
		if p := m.MountPropagation; p != nil {
			switch *p {
			case corev1.MountPropagationNone, corev1.MountPropagationHostToContainer, corev1.MountPropagationBidirectional:
			default:
				errs = append(errs, field.NotSupported(mi.Child("mountPropagation"), *p, []corev1.MountPropagationMode{
					corev1.MountPropagationBidirectional, corev1.MountPropagationHostToContainer, corev1.MountPropagationNone}))
			}
		}
	}
	for i, d := range c.VolumeDevices {
		di := idx.Child("volumeDevices").Index(i)
		if d.Name == "" {
			errs = append(errs, field.Required(di.Child("name"), ""))
		} else if src, ok := vols[d.Name]; !ok {
			errs = append(errs, field.NotFound(di.Child("name"), d.Name))
		} else if src.PersistentVolumeClaim == nil && src.Ephemeral == nil {
			errs = append(errs, field.Invalid(di.Child("name"), d.Name, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"))
		}
		if d.DevicePath == "" {
			errs = append(errs, field.Required(di.Child("devicePath"), ""))
		} else if mountPaths.Has(d.DevicePath) {
			errs = append(errs, field.Invalid(di.Child("devicePath"), d.DevicePath, "must not already exist as a path in volumeMounts"))
		}
	}
	return errs
}

// validateLocalDescendingPath checks a path that must stay inside the
// directory it is relative to.
func validateLocalDescendingPath(p string, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.IsAbs(p) {
		errs = append(errs, field.Invalid(fld, p, "must be a relative path"))
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			errs = append(errs, field.Invalid(fld, p, "must not contain '..'"))
			break
		}
	}
	return errs
}

// validateLocalNonReservedPath is validateLocalDescendingPath for files a
// volume projects, which may not start with "..".
func validateLocalNonReservedPath(p string, fld *field.Path) field.ErrorList {
	errs := validateLocalDescendingPath(p, fld)
	if strings.HasPrefix(p, "..") {
		errs = append(errs, field.Invalid(fld, p, "must not start with '..'"))
	}
	return errs
}

// handler is what probes and lifecycle hooks share.
type handler struct {
	exec    *corev1.ExecAction
	httpGet *corev1.HTTPGetAction
	tcp     *corev1.TCPSocketAction
	grpc    *corev1.GRPCAction
	sleep   *corev1.SleepAction
}

func lifecycleHandler(h *corev1.LifecycleHandler) handler {
	return handler{exec: h.Exec, httpGet: h.HTTPGet, tcp: h.TCPSocket, sleep: h.Sleep}
}

func validateProbe(p *corev1.Probe, fld *field.Path, mustSucceedOnce bool) field.ErrorList {
	if p == nil {
		return nil
	}
	h := handler{exec: p.Exec, httpGet: p.HTTPGet, tcp: p.TCPSocket, grpc: p.GRPC}
	errs := validateHandler(h, nil, fld)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(p.InitialDelaySeconds), fld.Child("initialDelaySeconds"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(p.TimeoutSeconds), fld.Child("timeoutSeconds"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(p.PeriodSeconds), fld.Child("periodSeconds"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(p.SuccessThreshold), fld.Child("successThreshold"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(p.FailureThreshold), fld.Child("failureThreshold"))...)
	if mustSucceedOnce && p.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(fld.Child("successThreshold"), p.SuccessThreshold, "must be 1"))
	}
	if p.TerminationGracePeriodSeconds != nil && *p.TerminationGracePeriodSeconds <= 0 {
		errs = append(errs, field.Invalid(fld.Child("terminationGracePeriodSeconds"), *p.TerminationGracePeriodSeconds, "must be greater than 0"))
	}
	return errs
}

// validateHandler requires exactly one action.
func validateHandler(h handler, grace *int64, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	one := func(set bool, name string, check func(*field.Path) field.ErrorList) {
		if !set {
			return
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(fld.Child(name), "may not specify more than 1 handler type"))
			return
		}
		n++
		errs = append(errs, check(fld.Child(name))...)
	}
	one(h.exec != nil, "exec", func(f *field.Path) field.ErrorList {
		if len(h.exec.Command) == 0 {
			return field.ErrorList{field.Required(f.Child("command"), "")}
		}
		return nil
	})
	one(h.httpGet != nil, "httpGet", func(f *field.Path) field.ErrorList { return validateHTTPGet(h.httpGet, f) })
	one(h.tcp != nil, "tcpSocket", func(f *field.Path) field.ErrorList { return validatePortNumOrName(h.tcp.Port, f.Child("port")) })
	one(h.grpc != nil, "grpc", func(f *field.Path) field.ErrorList {
		var errs field.ErrorList
		for _, msg := range validation.IsValidPortNum(int(h.grpc.Port)) {
			errs = append(errs, field.Invalid(f.Child("port"), h.grpc.Port, msg))
		}
		return errs
	})
	one(h.sleep != nil, "sleep", func(f *field.Path) field.ErrorList {
		s := h.sleep.Seconds
		if s < 0 || grace != nil && s > *grace {
			return field.ErrorList{field.Invalid(f, s, "must be non-negative and less than terminationGracePeriodSeconds")}
		}
		return nil
	})
	if n == 0 {
		errs = append(errs, field.Required(fld, "must specify a handler type"))
	}
	return errs
}

func validateHTTPGet(h *corev1.HTTPGetAction, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if h.Path == "" {
		errs = append(errs, field.Required(fld.Child("path"), ""))
	}
	errs = append(errs, validatePortNumOrName(h.Port, fld.Child("port"))...)
	if !containsValue(supportedURISchemes, h.Scheme) {
		errs = append(errs, field.NotSupported(fld.Child("scheme"), h.Scheme, supportedURISchemes))
	}
	for _, hdr := range h.HTTPHeaders {
		for _, msg := range validation.IsHTTPHeaderName(hdr.Name) {
			errs = append(errs, field.Invalid(fld.Child("httpHeaders"), hdr.Name, msg))
		}
	}
	return errs
}

func validatePortNumOrName(p intstr.IntOrString, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch p.Type {
	case intstr.Int:
		for _, msg := range validation.IsValidPortNum(p.IntValue()) {
			errs = append(errs, field.Invalid(fld, p.IntValue(), msg))
		}
	case intstr.String:
		for _, msg := range validation.IsValidPortName(p.StrVal) {
			errs = append(errs, field.Invalid(fld, p.StrVal, msg))
		}
	default:
		errs = append(errs, field.InternalError(fld, fmt.Errorf("unknown type: %v", p.Type)))
	}
	return errs
}

// validateVolumes checks pod volumes and returns them by name for the
// mounts to refer to.
func validateVolumes(vols []corev1.Volume, fld *field.Path) (map[string]corev1.VolumeSource, field.ErrorList) {
	var errs field.ErrorList
	byName := make(map[string]corev1.VolumeSource, len(vols))
	for i := range vols {
		v := &vols[i]
		idx := fld.Index(i)
		errs = append(errs, validateVolumeSource(&v.VolumeSource, idx)...)
		if v.Name == "" {
			errs = append(errs, field.Required(idx.Child("name"), ""))
		} else {
			errs = append(errs, dns1123Label(v.Name, idx.Child("name"))...)
		}
		if _, dup := byName[v.Name]; dup {
			errs = append(errs, field.Duplicate(idx.Child("name"), v.Name))
		} else {
			byName[v.Name] = v.VolumeSource
		}
	}
	return byName, errs
}

// volumeSourceNames are the JSON names of VolumeSource's fields, by index.
var volumeSourceNames = func() []string {
	t := reflect.TypeOf(corev1.VolumeSource{})
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
	}
	return names
}()

func validateVolumeSource(src *corev1.VolumeSource, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	v := reflect.ValueOf(src).Elem()
	n := 0
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			if n > 0 {
				errs = append(errs, field.Forbidden(fld.Child(volumeSourceNames[i]), "may not specify more than 1 volume type"))
			}
			n++
		}
	}
	if n == 0 {
		return append(errs, field.Required(fld, "must specify a volume type"))
	}
	if n > 1 {
		return errs
	}
	switch {
	case src.HostPath != nil:
		errs = append(errs, validateHostPath(src.HostPath, fld.Child("hostPath"))...)
	case src.EmptyDir != nil:
		if l := src.EmptyDir.SizeLimit; l != nil && l.Sign() < 0 {
			errs = append(errs, field.Forbidden(fld.Child("emptyDir", "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
		switch src.EmptyDir.Medium {
		case corev1.StorageMediumDefault, corev1.StorageMediumMemory, corev1.StorageMediumHugePages:
		default:
			if !strings.HasPrefix(string(src.EmptyDir.Medium), string(corev1.StorageMediumHugePagesPrefix)) {
				errs = append(errs, field.NotSupported(fld.Child("emptyDir", "medium"), src.EmptyDir.Medium,
					[]corev1.StorageMedium{corev1.StorageMediumDefault, corev1.StorageMediumMemory, corev1.StorageMediumHugePages}))
			}
		}
	case src.Secret != nil:
		f := fld.Child("secret")
		if src.Secret.SecretName == "" {
			errs = append(errs, field.Required(f.Child("secretName"), ""))
		}
		errs = append(errs, validateFileMode(src.Secret.DefaultMode, f.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(src.Secret.Items, f.Child("items"))...)
	case src.ConfigMap != nil:
		f := fld.Child("configMap")
		if src.ConfigMap.Name == "" {
			errs = append(errs, field.Required(f.Child("name"), ""))
		}
		errs = append(errs, validateFileMode(src.ConfigMap.DefaultMode, f.Child("defaultMode"))...)
		errs = append(errs, validateKeyToPaths(src.ConfigMap.Items, f.Child("items"))...)
	case src.PersistentVolumeClaim != nil:
		if src.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(fld.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case src.DownwardAPI != nil:
		f := fld.Child("downwardAPI")
		errs = append(errs, validateFileMode(src.DownwardAPI.DefaultMode, f.Child("defaultMode"))...)
		for i, item := range src.DownwardAPI.Items {
			errs = append(errs, validateDownwardAPIFile(item, f.Child("items").Index(i))...)
		}
	case src.Projected != nil:
		errs = append(errs, validateProjected(src.Projected, fld.Child("projected"))...)
	case src.NFS != nil:
		f := fld.Child("nfs")
		if src.NFS.Server == "" {
			errs = append(errs, field.Required(f.Child("server"), ""))
		}
		if src.NFS.Path == "" {
			errs = append(errs, field.Required(f.Child("path"), ""))
		} else if !path.IsAbs(src.NFS.Path) {
			errs = append(errs, field.Invalid(f.Child("path"), src.NFS.Path, "must be an absolute path"))
		}
	case src.CSI != nil:
		if src.CSI.Driver == "" {
			errs = append(errs, field.Required(fld.Child("csi", "driver"), ""))
		}
	case src.Ephemeral != nil:
		f := fld.Child("ephemeral", "volumeClaimTemplate")
		if src.Ephemeral.VolumeClaimTemplate == nil {
			errs = append(errs, field.Required(f, ""))
		} else {
			errs = append(errs, validatePVCSpec(&src.Ephemeral.VolumeClaimTemplate.Spec, f.Child("spec"))...)
		}
	case src.Image != nil:
		f := fld.Child("image")
		if src.Image.Reference == "" {
			errs = append(errs, field.Required(f.Child("reference"), ""))
		}
		if p := src.Image.PullPolicy; p != "" && !containsValue(supportedPullPolicy, p) {
			errs = append(errs, field.NotSupported(f.Child("pullPolicy"), p, supportedPullPolicy))
		}
	}
	return errs
}

var supportedHostPathTypes = []corev1.HostPathType{
	corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate,
	corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev,
}

func validateHostPath(h *corev1.HostPathVolumeSource, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if h.Path == "" {
		errs = append(errs, field.Required(fld.Child("path"), ""))
	} else {
		for _, part := range strings.Split(h.Path, "/") {
			if part == ".." {
				errs = append(errs, field.Invalid(fld.Child("path"), h.Path, "must not contain '..'"))
				break
			}
		}
	}
	if h.Type != nil && !containsValue(supportedHostPathTypes, *h.Type) {
		errs = append(errs, field.NotSupported(fld.Child("type"), *h.Type, supportedHostPathTypes))
	}
	return errs
}

func validateFileMode(mode *int32, fld *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fld, *mode, fileModeErrorMsg)}
	}
	return nil
}

func validateKeyToPaths(items []corev1.KeyToPath, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, kp := range items {
		idx := fld.Index(i)
		if kp.Key == "" {
			errs = append(errs, field.Required(idx.Child("key"), ""))
		}
		if kp.Path == "" {
			errs = append(errs, field.Required(idx.Child("path"), ""))
		}
		errs = append(errs, validateLocalNonReservedPath(kp.Path, idx.Child("path"))...)
		errs = append(errs, validateFileMode(kp.Mode, idx.Child("mode"))...)
	}
	return errs
}

func validateDownwardAPIFile(f corev1.DownwardAPIVolumeFile, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if f.Path == "" {
		errs = append(errs, field.Required(fld.Child("path"), ""))
	}
	errs = append(errs, validateLocalNonReservedPath(f.Path, fld.Child("path"))...)
	errs = append(errs, validateFileMode(f.Mode, fld.Child("mode"))...)
	switch {
	case f.FieldRef != nil && f.ResourceFieldRef != nil:
		errs = append(errs, field.Invalid(fld, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
	case f.FieldRef != nil:
		errs = append(errs, validateFieldSelector(f.FieldRef, volumeFieldPaths, fld.Child("fieldRef"))...)
	case f.ResourceFieldRef != nil:
		errs = append(errs, validateResourceFieldSelector(f.ResourceFieldRef, true, fld.Child("resourceFieldRef"))...)
	default:
		errs = append(errs, field.Required(fld, "one of fieldRef and resourceFieldRef is required"))
	}
	return errs
}

func validateProjected(p *corev1.ProjectedVolumeSource, fld *field.Path) field.ErrorList {
	errs := validateFileMode(p.DefaultMode, fld.Child("defaultMode"))
	for i, s := range p.Sources {
		idx := fld.Child("sources").Index(i)
		n := 0
		if s.Secret != nil {
			n++
			errs = append(errs, validateKeyToPaths(s.Secret.Items, idx.Child("secret", "items"))...)
		}
		if s.ConfigMap != nil {
			n++
			errs = append(errs, validateKeyToPaths(s.ConfigMap.Items, idx.Child("configMap", "items"))...)
		}
		if s.DownwardAPI != nil {
			n++
			for j, item := range s.DownwardAPI.Items {
				errs = append(errs, validateDownwardAPIFile(item, idx.Child("downwardAPI", "items").Index(j))...)
			}
		}
		if t := s.ServiceAccountToken; t != nil {
			n++
			if t.ExpirationSeconds != nil && *t.ExpirationSeconds < 600 {
				errs = append(errs, field.Invalid(idx.Child("serviceAccountToken", "expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
			}
			if t.Path == "" {
				errs = append(errs, field.Required(idx.Child("serviceAccountToken", "path"), ""))
			}
		}
		if s.ClusterTrustBundle != nil {
			n++
		}
		if s.PodCertificate != nil {
			n++
		}
		switch {
		case n == 0:
			errs = append(errs, field.Required(idx, "must specify a volume type"))
		case n > 1:
			errs = append(errs, field.Forbidden(idx, "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}
