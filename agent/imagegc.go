package agent

import (
	"context"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/agent/image"
	"github.com/wakehq/wake/services/reconcile"
)

// Image garbage collection: images no pod of the node uses are removed,
// least recently used first, when the state directory's file system is
// above ImageGC's high threshold (the eviction manager reclaims every
// unused image under DiskPressure: eviction.go).

// imageGC collects images every ImageGC.Period until ctx ends.
func (a *Agent) imageGC(ctx context.Context) error {
	p := a.cfg.ImageGC.WithDefaults()
	t := time.NewTicker(p.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		a.collectImages(p)
	}
}

// collectImages removes images no pod of the node uses, least recently
// used first, when the state directory's file system is above the high
// threshold, until it is under the low one (or nothing more may go).
func (a *Agent) collectImages(p image.GCPolicy) {
	m := a.measure()
	target := p.GCTarget(m.DiskSize-m.DiskAvailable, m.DiskSize)
	if target <= 0 {
		return
	}
	removed, freed, err := a.images.GC(target, a.imagesInUse(), p.WithDefaults().MinAge, a.now())
	for _, im := range removed {
		a.log.Info("image removed to free disk space", "image", im.ID, "refs", im.Refs)
	}
	if err != nil || freed < target {
		a.log.Warn("image garbage collection freed less than needed", "freed", freed, "wanted", target, "err", err)
	}
}

// imagesInUse reports whether an image is used by a pod bound to the node
// (whatever its phase: a stopped container may start again), by the
// references of its containers or the imageIDs of their statuses.
func (a *Agent) imagesInUse() func(image.Image) bool {
	used := map[string]bool{}
	objs, _ := a.cfg.View.List("", "pods", "")
	for _, o := range objs {
		if !a.mine(o) {
			continue
		}
		var pod corev1.Pod
		if reconcile.DecodeInto(o, &pod) != nil {
			continue
		}
		var refs []string
		for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
			refs = append(refs, c.Image)
		}
		for _, c := range pod.Spec.EphemeralContainers {
			refs = append(refs, c.Image)
		}
		for _, st := range slices.Concat(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses) {
			if _, digest, ok := strings.Cut(st.ImageID, "@"); ok {
				used[digest] = true
			}
		}
		for _, r := range refs {
			used[r] = true
			if _, digest, ok := strings.Cut(r, "@"); ok {
				used[digest] = true
			}
			if n, err := image.Normalize(r); err == nil {
				used[n] = true
			}
		}
	}
	return func(im image.Image) bool {
		if used[im.ID] || used[im.Digest] {
			return true
		}
		return slices.ContainsFunc(im.Refs, func(r string) bool { return used[r] })
	}
}
