package admission

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

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
	if c.Image == "" {
		errs = append(errs, field.Required(idx.Child("image"), ""))
	} else if isPod && c.Image != strings.TrimSpace(c.Image) {
		// Templates may carry " " as a token for admission webhooks to replace.
		errs = append(errs, field.Invalid(idx.Child("image"), c.Image, "must not have leading or trailing whitespace"))
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
		errs = append(errs, field.Invalid(idx.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, "must be 'File' or 'FallbackToLogsOnError'"))
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
