package eviction

import (
	"context"
	"fmt"
	"os"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Local ephemeral storage eviction, as the kubelet's eviction manager
// does it (pkg/kubelet/eviction, localStorageEviction and the nodefs
// signal):
//
//   - limits, with or without pressure: a pod is evicted when an emptyDir
//     uses more than its sizeLimit, when the pod (containers' writable
//     layers and logs, disk-backed emptyDirs) uses more than the sum of its
//     containers' ephemeral-storage limits, or when one container (its
//     writable layer and logs) uses more than its limit — checked in that
//     order, every pod over a limit in the same period;
//   - DiskPressure: images no pod uses are removed first; if the state
//     directory's file system is still short, one pod per period goes,
//     ranked by rankStorage.
//
// Usage is walked (usage.go) on the eviction period, only for pods with a
// limit unless the disk is short. Critical pods are never evicted.

// hasStorageLimits reports whether pod has a limit evictOverLimits checks.
func hasStorageLimits(pod *corev1.Pod) bool {
	if _, ok := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})[corev1.ResourceEphemeralStorage]; ok {
		return true
	}
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumDefault && v.EmptyDir.SizeLimit != nil && v.EmptyDir.SizeLimit.Sign() == 1 {
			return true
		}
	}
	return false
}

// storageLimitExceeded is the kubelet's message for a pod using more
// local storage than one of its limits allows, "" when it does not. As
// the kubelet's, the pod's limit is the sum of the limits its containers
// have (PodLimits: init containers as the max, overhead) as soon as one
// has a limit.
func storageLimitExceeded(pod *corev1.Pod, u podStorage) string {
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir == nil {
			continue
		}
		size := v.EmptyDir.SizeLimit
		if used, ok := u.emptyDirs[v.Name]; ok && size != nil && size.Sign() == 1 && used > size.Value() {
			return fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q. ", v.Name, size.String())
		}
	}
	if limit, ok := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})[corev1.ResourceEphemeralStorage]; ok && u.total() > limit.Value() {
		return fmt.Sprintf("Pod ephemeral local storage usage exceeds the total limit of containers %s. ", limit.String())
	}
	for _, c := range pod.Spec.Containers {
		limit, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]
		if used, measured := u.containers[c.Name]; ok && measured && limit.Value() != 0 && used > limit.Value() {
			return fmt.Sprintf("Container %s exceeded its local ephemeral storage limit %q. ", c.Name, limit.String())
		}
	}
	return ""
}

// evictOverLimits evicts every pod over one of its storage limits and
// returns them.
func (m *Manager) evictOverLimits(ctx context.Context) []evictedPod {
	var limited []evictedPod
	for _, p := range m.evictable() {
		if hasStorageLimits(p.Pod) {
			limited = append(limited, p)
		}
	}
	if len(limited) == 0 {
		return nil
	}
	ctrs, err := m.cfg.Containers(ctx)
	if err != nil {
		return nil
	}
	var evicted []evictedPod
	for _, p := range limited {
		u := m.measureStorage(ctx, p.UID, p.Pod, ctrs)
		if u.partial {
			m.cfg.Log.Warn("local storage of a pod measured in part: its walk took too long", "pod", p.Pod.Namespace+"/"+p.Pod.Name, "counted", u.total())
		}
		if msg := storageLimitExceeded(p.Pod, u); msg != "" {
			m.cfg.Log.Info("evicting a pod: local storage limit", "pod", p.Pod.Namespace+"/"+p.Pod.Name, "usage", u.total(), "message", msg)
			p.Worker.Evict(msg)
			evicted = append(evicted, p)
		}
	}
	return evicted
}

// storageCandidate is a running pod with its measured storage.
type storageCandidate struct {
	evictedPod
	usage podStorage
}

// rankStorage orders candidates for a disk pressure eviction as the
// kubelet's rankDiskPressureFunc: pods whose usage exceeds their
// ephemeral-storage request first, then by priority (lower first), then
// by usage above the request (larger first). Unlike memory, QoS classes
// play no part.
func rankStorage(cands []storageCandidate) {
	over := func(c storageCandidate) int64 { return c.usage.total() - storageRequest(c.Pod) }
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if ea, eb := over(a) > 0, over(b) > 0; ea != eb {
			return ea
		}
		if pa, pb := priorityOf(a.Pod), priorityOf(b.Pod); pa != pb {
			return pa < pb
		}
		if oa, ob := over(a), over(b); oa != ob {
			return oa > ob
		}
		return a.Pod.Namespace+"/"+a.Pod.Name < b.Pod.Namespace+"/"+b.Pod.Name
	})
}

// storageRequest is the pod's ephemeral-storage request in bytes.
func storageRequest(pod *corev1.Pod) int64 {
	q := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})[corev1.ResourceEphemeralStorage]
	return q.Value()
}

// diskPressureMessage is the kubelet's eviction message for the
// nodefs.available signal (evictionMessage).
func diskPressureMessage(m Measures, th Thresholds, pod *corev1.Pod, u podStorage) string {
	return evictionMessage(corev1.ResourceEphemeralStorage, thresholdQuantity(th.DiskAvailablePercent, m.DiskSize),
		resource.NewQuantity(m.DiskAvailable, resource.BinarySI), pod, nil, u.containers)
}

// evictForDisk answers DiskPressure: node-level space first (every image
// no pod uses), then, if the measure still shows pressure, one pod.
func (m *Manager) evictForDisk(ctx context.Context, th Thresholds) *evictedPod {
	if m.cfg.ReclaimImages != nil {
		m.cfg.ReclaimImages()
	}
	ms := m.cfg.Measure()
	if !Evaluate(ms, th).Disk {
		m.cfg.Log.Info("disk pressure relieved by image garbage collection, no pod evicted")
		return nil
	}
	ctrs, err := m.cfg.Containers(ctx)
	if err != nil {
		return nil
	}
	var cands []storageCandidate
	for _, p := range m.evictable() {
		cands = append(cands, storageCandidate{evictedPod: p, usage: m.measureStorage(ctx, p.UID, p.Pod, ctrs)})
	}
	if len(cands) == 0 {
		m.cfg.Log.Warn("disk pressure but no pod to evict", "available", ms.DiskAvailable)
		return nil
	}
	rankStorage(cands)
	v := cands[0]
	msg := diskPressureMessage(ms, th, v.Pod, v.usage)
	m.cfg.Log.Info("evicting a pod: disk pressure", "pod", v.Pod.Namespace+"/"+v.Pod.Name, "usage", v.usage.total(), "available", ms.DiskAvailable)
	v.Worker.Evict(msg)
	return &v.evictedPod
}

// freeEvictedVolumes removes the disk-backed emptyDirs of an evicted pod
// once its containers are gone, as the kubelet tears down a terminated
// pod's volumes: the space is the node's again before the pod is deleted.
func (m *Manager) freeEvictedVolumes(ctx context.Context, p evictedPod) {
	ctrs, err := m.cfg.Containers(ctx)
	if err != nil {
		return
	}
	for _, c := range ctrs {
		if c.PodUID == p.UID {
			return // not stopped after all: leave its files
		}
	}
	for _, v := range p.Pod.Spec.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.Medium == corev1.StorageMediumDefault {
			if err := os.RemoveAll(m.cfg.Files.VolumeDir(p.UID, v.Name)); err != nil {
				m.cfg.Log.Warn("evicted pod's emptyDir not removed", "pod", p.Pod.Namespace+"/"+p.Pod.Name, "volume", v.Name, "err", err)
			}
		}
	}
}
