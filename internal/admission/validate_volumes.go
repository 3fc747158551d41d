package admission

import (
	"path"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

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
