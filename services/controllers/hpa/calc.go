package hpa

import (
	"fmt"
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

// Upstream's defaults (kube-controller-manager --horizontal-pod-autoscaler-*).
const (
	Tolerance               = 0.1
	DefaultDownscaleWindow  = 300 * time.Second
	scaleUpLimitFactor      = 2.0
	scaleUpLimitMinimum     = 4.0
	reasonFailedGetResource = "FailedGetResourceMetric"
)

// PodUsage is one pod's measured usage: CPU in millicores, memory in bytes.
type PodUsage struct {
	CPUMilli    int64
	MemoryBytes int64
}

// Usage is the measured usage of pods by uid; a pod without metrics is absent.
type Usage map[types.UID]PodUsage

// Recommendation is one past proposal, kept for scale-down stabilization.
type Recommendation struct {
	Replicas int32
	Time     time.Time
}

// metricError is a metric that could not be computed: it becomes the
// ScalingActive=False condition.
type metricError struct{ reason, msg string }

func (e *metricError) Error() string { return e.msg }

// milli is a pod's usage of res in milli-units (millicores, millibytes).
func (u PodUsage) milli(res corev1.ResourceName) int64 {
	if res == corev1.ResourceCPU {
		return u.CPUMilli
	}
	return u.MemoryBytes * 1000
}

// podRequest sums the containers' requests of res in milli-units; an
// error names the first container without one.
func podRequest(p *corev1.Pod, res corev1.ResourceName) (int64, error) {
	var sum int64
	for _, c := range p.Spec.Containers {
		q, ok := c.Resources.Requests[res]
		if !ok {
			return 0, fmt.Errorf("missing request for %s in container %s of Pod %s", res, c.Name, p.Name)
		}
		sum += q.MilliValue()
	}
	return sum, nil
}

// counted are the pods that count: Running and not being deleted.
func counted(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	return out
}

// resourceReplicas is upstream's GetResourceReplicas / GetRawResourceReplicas
// for one resource metric: the replicas it proposes and what it measured.
func resourceReplicas(current int32, m *autoscalingv2.ResourceMetricSource, pods []*corev1.Pod, usage Usage) (int32, autoscalingv2.MetricStatus, error) {
	res, t := m.Name, m.Target
	var measured []*corev1.Pod
	var missing []*corev1.Pod
	for _, p := range counted(pods) {
		if _, ok := usage[p.UID]; ok {
			measured = append(measured, p)
		} else {
			missing = append(missing, p)
		}
	}
	if len(measured) == 0 {
		return 0, autoscalingv2.MetricStatus{}, &metricError{reasonFailedGetResource,
			fmt.Sprintf("unable to get metrics for resource %s: no metrics returned from resource metrics API", res)}
	}
	utilization := t.Type == autoscalingv2.UtilizationMetricType
	requests := map[types.UID]int64{}
	if utilization {
		for _, p := range append(append([]*corev1.Pod(nil), measured...), missing...) {
			r, err := podRequest(p, res)
			if err != nil {
				return 0, autoscalingv2.MetricStatus{}, &metricError{reasonFailedGetResource,
					fmt.Sprintf("failed to get %s utilization: %v", res, err)}
			}
			requests[p.UID] = r
		}
	}
	// ratio is the usage over the target for the given per-pod values.
	ratio := func(values map[types.UID]int64) (r float64, util int32, avg int64, err error) {
		var used, req int64
		for uid, v := range values {
			used += v
			req += requests[uid]
		}
		avg = used / int64(len(values))
		if !utilization {
			return float64(avg) / float64(t.AverageValue.MilliValue()), 0, avg, nil
		}
		if req == 0 {
			return 0, 0, avg, fmt.Errorf("no requests for %s on the targeted pods", res)
		}
		util = int32(used * 100 / req)
		return float64(util) / float64(*t.AverageUtilization), util, avg, nil
	}
	values := map[types.UID]int64{}
	for _, p := range measured {
		values[p.UID] = usage[p.UID].milli(res)
	}
	r, util, avg, err := ratio(values)
	if err != nil {
		return 0, autoscalingv2.MetricStatus{}, &metricError{reasonFailedGetResource, fmt.Sprintf("failed to get %s utilization: %v", res, err)}
	}
	st := autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
		Name:    res,
		Current: autoscalingv2.MetricValueStatus{AverageValue: averageQuantity(res, avg)},
	}}
	if utilization {
		st.Resource.Current.AverageUtilization = &util
	}
	if len(missing) == 0 {
		if math.Abs(1-r) <= Tolerance {
			return current, st, nil
		}
		return int32(math.Ceil(r * float64(len(measured)))), st, nil
	}
	// Missing pods: assume they use the target (100% of their request at
	// least) when scaling down, nothing when scaling up, so that they can
	// only dampen the move.
	for _, p := range missing {
		switch {
		case r < 1 && utilization:
			values[p.UID] = requests[p.UID] * int64(max(*t.AverageUtilization, 100)) / 100
		case r < 1:
			values[p.UID] = t.AverageValue.MilliValue()
		default:
			values[p.UID] = 0
		}
	}
	nr, _, _, _ := ratio(values)
	if math.Abs(1-nr) <= Tolerance || (r < 1) != (nr < 1) {
		return current, st, nil
	}
	n := int32(math.Ceil(nr * float64(len(values))))
	if nr < 1 && n > current || nr > 1 && n < current {
		return current, st, nil
	}
	return n, st, nil
}

func averageQuantity(res corev1.ResourceName, milli int64) *resource.Quantity {
	if res == corev1.ResourceMemory {
		return resource.NewQuantity(milli/1000, resource.BinarySI)
	}
	return resource.NewMilliQuantity(milli, resource.DecimalSI)
}

// stabilize is upstream's stabilizeRecommendation: the highest of the
// proposal and the recommendations within window before now. It returns
// the history with the proposal recorded and the expired entries dropped.
func stabilize(history []Recommendation, proposal int32, now time.Time, window time.Duration) (int32, []Recommendation) {
	best := proposal
	cutoff := now.Add(-window)
	kept := []Recommendation{}
	for _, r := range history {
		if r.Time.Before(cutoff) {
			continue
		}
		kept = append(kept, r)
		best = max(best, r.Replicas)
	}
	return best, append(kept, Recommendation{Replicas: proposal, Time: now})
}

// limit clamps desired to [minReplicas, maxReplicas] and to upstream's
// scale-up limit; it says why when it did.
func limit(current, desired, minReplicas, maxReplicas int32) (int32, string, string) {
	upLimit := int32(math.Max(scaleUpLimitFactor*float64(current), scaleUpLimitMinimum))
	switch {
	case desired < minReplicas:
		return minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
	case desired > maxReplicas && maxReplicas <= upLimit:
		return maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
	case desired > upLimit:
		return upLimit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
	}
	return desired, "", ""
}
