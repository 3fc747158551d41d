package agent

import (
	"context"
	"math"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"

	"github.com/wakehq/wake/agent/eviction"
	"github.com/wakehq/wake/agent/logs"
	"github.com/wakehq/wake/agent/runtime"
)

// The agent's side of the eviction manager (agent/eviction): what it
// measures, the pods it may evict, their containers and files, and the
// images it may reclaim.

// newEvictionManager wires the eviction manager to the agent.
func (a *Agent) newEvictionManager() *eviction.Manager {
	return eviction.New(eviction.Config{
		Thresholds:    a.cfg.Pressure,
		Period:        a.cfg.EvictionPeriod,
		Measure:       a.measure,
		Pods:          a.evictablePods,
		Containers:    a.evictionContainers,
		Files:         evictionFiles{a},
		ReclaimImages: a.reclaimImages,
		Now:           a.now,
		Log:           a.log,
	})
}

// measure measures the node now (Config.Measure, a test's, or
// eviction.Measure).
func (a *Agent) measure() eviction.Measures {
	if a.cfg.Measure != nil {
		return a.cfg.Measure(a.cfg.StateDir)
	}
	return eviction.Measure(a.cfg.StateDir)
}

// evictablePods are the pods whose workers run them.
func (a *Agent) evictablePods() []eviction.Pod {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []eviction.Pod
	for uid, w := range a.workers {
		if pod := w.candidate(); pod != nil {
			out = append(out, eviction.Pod{UID: uid, Pod: pod, Worker: w})
		}
	}
	return out
}

// evictionContainers are the node's containers named as in their pods.
func (a *Agent) evictionContainers(ctx context.Context) ([]eviction.Container, error) {
	ctrs, err := a.rt.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]eviction.Container, 0, len(ctrs))
	for _, st := range ctrs {
		name, _, ok := parseContainerID(st.ID)
		if !ok {
			name = "" // not one of a pod's containers: counted for none
		}
		out = append(out, eviction.Container{ID: st.ID, PodUID: st.SandboxID, Name: name, Running: st.Status == runtime.Running})
	}
	return out, nil
}

// evictionFiles is the agent's state directory as the eviction manager
// measures a pod's local storage.
type evictionFiles struct{ a *Agent }

func (f evictionFiles) LogDir(uid, container string) string {
	return filepath.Dir(logs.Path(f.a.dir("pods"), uid, container, 0))
}

func (f evictionFiles) VolumeDir(uid, volume string) string {
	return volumeDir(f.a.dir("pods", uid), volume)
}

// WritableLayer is the upper directory of the container's overlay rootfs
// (runtime/libct/rootfs.go) when the agent runs its own libct; "" for a
// runtime given in Config, whose layout it does not know.
func (f evictionFiles) WritableLayer(id string) string {
	if f.a.cfg.Runtime != nil {
		return ""
	}
	return f.a.dir("runtime", "containers", id, "upper")
}

// reclaimImages removes every image no pod of the node uses (not only
// down to the GC policy's low threshold), as the kubelet's
// DeleteUnusedImages before a disk pressure eviction.
func (a *Agent) reclaimImages() {
	if a.images == nil {
		return
	}
	removed, freed, err := a.images.GC(math.MaxInt64, a.imagesInUse(), a.cfg.ImageGC.WithDefaults().MinAge, a.now())
	for _, im := range removed {
		a.log.Info("image removed under disk pressure", "image", im.ID, "refs", im.Refs)
	}
	if err != nil {
		a.log.Warn("image garbage collection under disk pressure", "freed", freed, "err", err)
	}
}

// candidate is the worker's pod when it runs and may be evicted: not
// terminal, not deleting, not refused or evicted already.
func (w *podWorker) candidate() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	pod := w.current
	if pod == nil || w.rejected != nil || w.evicted != nil || pod.DeletionTimestamp != nil || terminal(pod) {
		return nil
	}
	return pod
}

// Stopped reports whether the worker has stopped its evicted pod
// (eviction.Worker).
func (w *podWorker) Stopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rejected != nil
}

// Evict asks the worker to stop the pod and report it Evicted
// (eviction.Worker).
func (w *podWorker) Evict(message string) {
	w.mu.Lock()
	w.evicted = &rejection{Reason: "Evicted", Message: message}
	w.mu.Unlock()
	w.wake()
}
