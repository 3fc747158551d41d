package admission

import (
	"fmt"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var nodeNameRule = apivalidation.NameIsDNSSubdomain

// maxClientIPServiceAffinitySeconds is the longest ClientIP affinity.
const maxClientIPServiceAffinitySeconds = 86400

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	var errs field.ErrorList
	for i, f := range ns.Spec.Finalizers {
		p := specPath.Child("finalizers").Index(i)
		msgs := validation.IsQualifiedName(string(f))
		for _, msg := range msgs {
			errs = append(errs, field.Invalid(p, f, msg))
		}
		if len(msgs) == 0 && !strings.Contains(string(f), "/") && f != corev1.FinalizerKubernetes {
			errs = append(errs, field.Invalid(p, f, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

func validateNode(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	for i, c := range cidrs {
		errs = append(errs, validation.IsValidCIDRForLegacyField(specPath.Child("podCIDRs").Index(i), c, true, nil)...)
	}
	if len(cidrs) > 2 {
		errs = append(errs, field.Invalid(specPath.Child("podCIDRs"), cidrs, "may specify no more than one CIDR for each IP family"))
	}
	if n.Spec.PodCIDR != "" && len(n.Spec.PodCIDRs) > 0 && n.Spec.PodCIDR != n.Spec.PodCIDRs[0] {
		errs = append(errs, field.Invalid(specPath.Child("podCIDRs").Index(0), n.Spec.PodCIDRs[0], "must match spec.podCIDR"))
	}
	type keyEffect struct {
		key    string
		effect corev1.TaintEffect
	}
	seen := sets.New[keyEffect]()
	for i, t := range n.Spec.Taints {
		idx := specPath.Child("taints").Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(t.Key, idx.Child("key"))...)
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) != 0 {
			errs = append(errs, field.Invalid(idx.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		if t.Effect == "" {
			errs = append(errs, field.Required(idx.Child("effect"), ""))
		} else {
			errs = append(errs, validateTaintEffect(t.Effect, idx.Child("effect"))...)
		}
		ke := keyEffect{t.Key, t.Effect}
		if seen.Has(ke) {
			d := field.Duplicate(idx, t)
			d.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, d)
		}
		seen.Insert(ke)
	}
	errs = append(errs, validateResourceList(n.Status.Capacity, field.NewPath("status", "capacity"))...)
	errs = append(errs, validateResourceList(n.Status.Allocatable, field.NewPath("status", "allocatable"))...)
	return errs
}

// validateNodeUpdate lets a pod CIDR and provider ID be set once.
func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	if len(old.Spec.PodCIDRs) > 0 && !apiequality.Semantic.DeepEqual(n.Spec.PodCIDRs, old.Spec.PodCIDRs) ||
		old.Spec.PodCIDR != "" && n.Spec.PodCIDR != old.Spec.PodCIDR {
		errs = append(errs, field.Forbidden(specPath.Child("podCIDRs"), `node updates may not change podCIDR except from "" to valid`))
	}
	if old.Spec.ProviderID != "" && n.Spec.ProviderID != old.Spec.ProviderID {
		errs = append(errs, field.Forbidden(specPath.Child("providerID"), `node updates may not change providerID except from "" to valid`))
	}
	return errs
}

var supportedAccessModes = []corev1.PersistentVolumeAccessMode{
	corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod,
}

var supportedVolumeModes = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}

func validatePVC(c *corev1.PersistentVolumeClaim) field.ErrorList {
	return validatePVCSpec(&c.Spec, specPath)
}

func validatePVCSpec(s *corev1.PersistentVolumeClaimSpec, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(s.AccessModes) == 0 {
		errs = append(errs, field.Required(fld.Child("accessModes"), "at least 1 access mode is required"))
	}
	errs = append(errs, validateAccessModes(s.AccessModes, fld.Child("accessModes"))...)
	if s.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(s.Selector, metav1validation.LabelSelectorValidationOptions{}, fld.Child("selector"))...)
	}
	storagePath := fld.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := s.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(storagePath, ""))
	} else {
		errs = append(errs, positiveQuantity(q, storagePath)...)
	}
	if s.StorageClassName != nil && *s.StorageClassName != "" {
		errs = append(errs, namedBy(*s.StorageClassName, apivalidation.NameIsDNSSubdomain, fld.Child("storageClassName"))...)
	}
	if s.VolumeMode != nil && !containsValue(supportedVolumeModes, *s.VolumeMode) {
		errs = append(errs, field.NotSupported(fld.Child("volumeMode"), *s.VolumeMode, supportedVolumeModes))
	}
	return errs
}

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, m := range modes {
		if !containsValue(supportedAccessModes, m) {
			errs = append(errs, field.NotSupported(fld, m, supportedAccessModes))
		}
	}
	if containsValue(modes, corev1.ReadWriteOncePod) && len(modes) > 1 {
		errs = append(errs, field.Forbidden(fld, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func positiveQuantity(q resource.Quantity, fld *field.Path) field.ErrorList {
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(fld, q.String(), isNotPositiveErrorMsg)}
	}
	return nil
}

// validatePVCUpdate keeps a claim's spec but for binding (volumeName, set
// once) and, once bound, its storage request and volume attributes class;
// the request may not drop below the capacity provisioned.
func validatePVCUpdate(c, old *corev1.PersistentVolumeClaim) field.ErrorList {
	newSpec, oldSpec := c.Spec.DeepCopy(), old.Spec.DeepCopy()
	if oldSpec.VolumeName == "" {
		oldSpec.VolumeName = newSpec.VolumeName
	}
	if c.Status.Phase == corev1.ClaimBound {
		if newSpec.Resources.Requests != nil {
			if q, ok := old.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
				newSpec.Resources.Requests[corev1.ResourceStorage] = q
			}
		}
		oldSpec.VolumeAttributesClassName = newSpec.VolumeAttributesClassName
	}
	var errs field.ErrorList
	if !apiequality.Semantic.DeepEqual(newSpec, oldSpec) {
		errs = append(errs, field.Forbidden(specPath, "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	newSize := c.Spec.Resources.Requests[corev1.ResourceStorage]
	oldSize := old.Spec.Resources.Requests[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) < 0 {
		if capacity, ok := old.Status.Capacity[corev1.ResourceStorage]; ok && newSize.Cmp(capacity) <= 0 {
			errs = append(errs, field.Forbidden(specPath.Child("resources", "requests", "storage"), "field can not be less than status.capacity"))
		}
	}
	return errs
}

// persistentVolumeSourceNames are the JSON names of the sources a
// PersistentVolume may have.
var persistentVolumeSourceNames = []string{
	"gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd", "iscsi", "cinder",
	"cephfs", "fc", "flocker", "flexVolume", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
	"photonPersistentDisk", "portworxVolume", "scaleIO", "local", "storageos", "csi",
}

func validatePV(pv *corev1.PersistentVolume) field.ErrorList {
	s := &pv.Spec
	var errs field.ErrorList
	if len(s.AccessModes) == 0 {
		errs = append(errs, field.Required(specPath.Child("accessModes"), ""))
	}
	errs = append(errs, validateAccessModes(s.AccessModes, specPath.Child("accessModes"))...)
	if len(s.Capacity) == 0 {
		errs = append(errs, field.Required(specPath.Child("capacity"), ""))
	} else if q, ok := s.Capacity[corev1.ResourceStorage]; !ok || len(s.Capacity) > 1 {
		errs = append(errs, field.NotSupported(specPath.Child("capacity"), sets.List(sets.KeySet(s.Capacity)), []corev1.ResourceName{corev1.ResourceStorage}))
	} else {
		errs = append(errs, positiveQuantity(q, specPath.Child("capacity").Key(string(corev1.ResourceStorage)))...)
	}
	switch s.PersistentVolumeReclaimPolicy {
	case corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("persistentVolumeReclaimPolicy"), s.PersistentVolumeReclaimPolicy,
			[]corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain}))
	}
	if s.StorageClassName != "" {
		errs = append(errs, namedBy(s.StorageClassName, apivalidation.NameIsDNSSubdomain, specPath.Child("storageClassName"))...)
	}
	if s.VolumeMode != nil && !containsValue(supportedVolumeModes, *s.VolumeMode) {
		errs = append(errs, field.NotSupported(specPath.Child("volumeMode"), *s.VolumeMode, supportedVolumeModes))
	}
	n := 0
	for i, set := range pvSourcesSet(&s.PersistentVolumeSource) {
		if !set {
			continue
		}
		if n > 0 {
			errs = append(errs, field.Forbidden(specPath.Child(persistentVolumeSourceNames[i]), "may not specify more than 1 volume type"))
		}
		n++
	}
	if n == 0 {
		errs = append(errs, field.Required(specPath, "must specify a volume type"))
	}
	if h := s.HostPath; h != nil {
		errs = append(errs, validateHostPath(h, specPath.Child("hostPath"))...)
	}
	if l := s.Local; l != nil && l.Path == "" {
		errs = append(errs, field.Required(specPath.Child("local", "path"), ""))
	}
	if c := s.CSI; c != nil && c.Driver == "" {
		errs = append(errs, field.Required(specPath.Child("csi", "driver"), ""))
	}
	return errs
}

func pvSourcesSet(s *corev1.PersistentVolumeSource) []bool {
	return []bool{
		s.GCEPersistentDisk != nil, s.AWSElasticBlockStore != nil, s.HostPath != nil, s.Glusterfs != nil, s.NFS != nil,
		s.RBD != nil, s.ISCSI != nil, s.Cinder != nil, s.CephFS != nil, s.FC != nil, s.Flocker != nil, s.FlexVolume != nil,
		s.AzureFile != nil, s.VsphereVolume != nil, s.Quobyte != nil, s.AzureDisk != nil, s.PhotonPersistentDisk != nil,
		s.PortworxVolume != nil, s.ScaleIO != nil, s.Local != nil, s.StorageOS != nil, s.CSI != nil,
	}
}

func validatePVUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	var errs field.ErrorList
	if !apiequality.Semantic.DeepEqual(pv.Spec.PersistentVolumeSource, old.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(specPath.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	errs = append(errs, immutable(pv.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if old.Spec.NodeAffinity != nil {
		errs = append(errs, immutable(pv.Spec.NodeAffinity, old.Spec.NodeAffinity, specPath.Child("nodeAffinity"))...)
	}
	return errs
}

func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var errs field.ErrorList
	types := sets.New[corev1.LimitType]()
	for i := range lr.Spec.Limits {
		item := &lr.Spec.Limits[i]
		idx := specPath.Child("limits").Index(i)
		switch item.Type {
		case corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim:
		default:
			errs = append(errs, field.NotSupported(idx.Child("type"), item.Type,
				[]corev1.LimitType{corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim, corev1.LimitTypePod}))
		}
		if types.Has(item.Type) {
			errs = append(errs, field.Duplicate(idx.Child("type"), item.Type))
		}
		types.Insert(item.Type)
		if item.Type == corev1.LimitTypePod {
			if len(item.Default) > 0 {
				errs = append(errs, field.Forbidden(idx.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(item.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(idx.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		}
		errs = append(errs, validateResourceList(item.Max, idx.Child("max"))...)
		errs = append(errs, validateResourceList(item.Min, idx.Child("min"))...)
		errs = append(errs, validateResourceList(item.Default, idx.Child("default"))...)
		errs = append(errs, validateResourceList(item.DefaultRequest, idx.Child("defaultRequest"))...)
		errs = append(errs, validateResourceList(item.MaxLimitRequestRatio, idx.Child("maxLimitRequestRatio"))...)
		errs = append(errs, validateLimitOrder(item, idx)...)
	}
	return errs
}

// validateLimitOrder checks min <= defaultRequest <= default <= max for
// each resource a limit names.
func validateLimitOrder(item *corev1.LimitRangeItem, idx *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, min := range item.Min {
		if max, ok := item.Max[name]; ok && min.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(idx.Child("min").Key(string(name)), min.String(), fmt.Sprintf("min value %s is greater than max value %s", min.String(), max.String())))
		}
		if def, ok := item.Default[name]; ok && min.Cmp(def) > 0 {
			errs = append(errs, field.Invalid(idx.Child("default").Key(string(name)), def.String(), fmt.Sprintf("min value %s is greater than default value %s", min.String(), def.String())))
		}
		if req, ok := item.DefaultRequest[name]; ok && min.Cmp(req) > 0 {
			errs = append(errs, field.Invalid(idx.Child("defaultRequest").Key(string(name)), req.String(), fmt.Sprintf("min value %s is greater than default request value %s", min.String(), req.String())))
		}
	}
	for name, max := range item.Max {
		if def, ok := item.Default[name]; ok && def.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(idx.Child("default").Key(string(name)), def.String(), fmt.Sprintf("default value %s is greater than max value %s", def.String(), max.String())))
		}
		if req, ok := item.DefaultRequest[name]; ok && req.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(idx.Child("defaultRequest").Key(string(name)), req.String(), fmt.Sprintf("default request value %s is greater than max value %s", req.String(), max.String())))
		}
	}
	for name, req := range item.DefaultRequest {
		if def, ok := item.Default[name]; ok && req.Cmp(def) > 0 {
			errs = append(errs, field.Invalid(idx.Child("defaultRequest").Key(string(name)), req.String(), fmt.Sprintf("default request value %s is greater than default limit value %s", req.String(), def.String())))
		}
	}
	return errs
}

var supportedQuotaScopes = []corev1.ResourceQuotaScope{
	corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeCrossNamespacePodAffinity, corev1.ResourceQuotaScopeNotBestEffort,
	corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeTerminating,
	corev1.ResourceQuotaScopeVolumeAttributesClass,
}

func validateResourceQuota(q *corev1.ResourceQuota) field.ErrorList {
	errs := validateResourceList(q.Spec.Hard, specPath.Child("hard"))
	for i, s := range q.Spec.Scopes {
		if !containsValue(supportedQuotaScopes, s) {
			errs = append(errs, field.NotSupported(specPath.Child("scopes").Index(i), s, supportedQuotaScopes))
		}
	}
	if ss := q.Spec.ScopeSelector; ss != nil {
		for i, r := range ss.MatchExpressions {
			p := specPath.Child("scopeSelector", "matchExpressions").Index(i)
			if !containsValue(supportedQuotaScopes, r.ScopeName) {
				errs = append(errs, field.NotSupported(p.Child("scopeName"), r.ScopeName, supportedQuotaScopes))
			}
			switch r.Operator {
			case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
				if len(r.Values) == 0 {
					errs = append(errs, field.Required(p.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
				}
			case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
				if len(r.Values) != 0 {
					errs = append(errs, field.Invalid(p.Child("values"), r.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
				}
			default:
				errs = append(errs, field.Invalid(p.Child("operator"), r.Operator, "not a valid selector operator"))
			}
		}
	}
	errs = append(errs, validateResourceList(q.Status.Hard, field.NewPath("status", "hard"))...)
	return append(errs, validateResourceList(q.Status.Used, field.NewPath("status", "used"))...)
}

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	var errs field.ErrorList
	if d := l.Spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(specPath.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := l.Spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(specPath.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	return errs
}

// The built-in PriorityClasses and the highest value a user may give one.
const (
	systemPriorityClassPrefix    = "system-"
	highestUserDefinablePriority = 1000000000
)

func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(pc.Name, systemPriorityClassPrefix) {
		if err := knownSystemPriorityClass(pc); err != nil {
			errs = append(errs, field.Forbidden(metaPath.Child("name"),
				"priority class names with '"+systemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+err.Error()))
		}
	} else if pc.Value > highestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", highestUserDefinablePriority)))
	}
	if pc.PreemptionPolicy != nil {
		errs = append(errs, validatePreemptionPolicy(*pc.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	}
	return errs
}

func knownSystemPriorityClass(pc *schedulingv1.PriorityClass) error {
	v, ok := systemPriorities[pc.Name]
	switch {
	case !ok:
		return fmt.Errorf("%v is not a known system priority class", pc.Name)
	case pc.Value != v:
		return fmt.Errorf("value of %v PriorityClass must be %v", pc.Name, v)
	case pc.GlobalDefault:
		return fmt.Errorf("globalDefault of %v PriorityClass must be %v", pc.Name, false)
	}
	return nil
}

func validatePreemptionPolicy(p corev1.PreemptionPolicy, fld *field.Path) field.ErrorList {
	switch p {
	case corev1.PreemptLowerPriority, corev1.PreemptNever:
		return nil
	case "":
		return field.ErrorList{field.Required(fld, "")}
	}
	return field.ErrorList{field.NotSupported(fld, p, []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever})}
}

func validatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if pc.Value != old.Value {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	return append(errs, immutable(pc.PreemptionPolicy, old.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
}
