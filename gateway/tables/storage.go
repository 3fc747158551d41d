package tables

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// betaStorageClassAnnotation still overrides the storageClassName field in
// what kubectl shows.
const betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"

var (
	pvSpecDoc    = corev1.PersistentVolumeSpec{}.SwaggerDoc()
	pvStatusDoc  = corev1.PersistentVolumeStatus{}.SwaggerDoc()
	pvcSpecDoc   = corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()
	pvcStatusDoc = corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()
)

var pvPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Capacity", "string", pvSpecDoc["capacity"]),
	col("Access Modes", "string", pvSpecDoc["accessModes"]),
	col("Reclaim Policy", "string", pvSpecDoc["persistentVolumeReclaimPolicy"]),
	col("Status", "string", pvStatusDoc["phase"]),
	col("Claim", "string", pvSpecDoc["claimRef"]),
	col("StorageClass", "string", "StorageClass of the pv"),
	col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
	col("Reason", "string", pvStatusDoc["reason"]),
	colAge,
	wide(col("VolumeMode", "string", pvSpecDoc["volumeMode"])),
}, func(pv *corev1.PersistentVolume, now time.Time) ([]any, error) {
	claim := ""
	if ref := pv.Spec.ClaimRef; ref != nil {
		claim = ref.Namespace + "/" + ref.Name
	}
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	class := pv.Spec.StorageClassName
	if c, ok := pv.Annotations[betaStorageClassAnnotation]; ok {
		class = c
	}
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	return []any{
		pv.Name, capacity.String(), accessModes(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
		phase, claim, class, orUnset(pv.Spec.VolumeAttributesClassName), pv.Status.Reason, age(pv.CreationTimestamp, now),
		volumeMode(pv.Spec.VolumeMode),
	}, nil
})

var pvcPrinter = typed([]metav1.TableColumnDefinition{
	colName,
	col("Status", "string", pvcStatusDoc["phase"]),
	col("Volume", "string", pvcSpecDoc["volumeName"]),
	col("Capacity", "string", pvcStatusDoc["capacity"]),
	col("Access Modes", "string", pvcStatusDoc["accessModes"]),
	col("StorageClass", "string", "StorageClass of the pvc"),
	col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
	colAge,
	wide(col("VolumeMode", "string", pvcSpecDoc["volumeMode"])),
}, func(pvc *corev1.PersistentVolumeClaim, now time.Time) ([]any, error) {
	phase := string(pvc.Status.Phase)
	if pvc.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	// Capacity and access modes are the bound volume's, so blank until bound.
	capacity, modes := "", ""
	if pvc.Spec.VolumeName != "" {
		q := pvc.Status.Capacity[corev1.ResourceStorage]
		capacity, modes = q.String(), accessModes(pvc.Status.AccessModes)
	}
	class := ""
	if c, ok := pvc.Annotations[betaStorageClassAnnotation]; ok {
		class = c
	} else if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	return []any{
		pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, class,
		orUnset(pvc.Spec.VolumeAttributesClassName), age(pvc.CreationTimestamp, now), volumeMode(pvc.Spec.VolumeMode),
	}, nil
})

// accessModes abbreviates the modes present, in kubectl's fixed order.
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"},
		{corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"},
		{corev1.ReadWriteOncePod, "RWOP"},
	} {
		for _, have := range modes {
			if have == m.mode {
				out = append(out, m.short)
				break
			}
		}
	}
	return strings.Join(out, ",")
}

func volumeMode(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func orUnset(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}
