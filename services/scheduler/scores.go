package scheduler

import "math"

var (
	_ ScorePlugin = NodeResourcesLeastAllocated{}
	_ ScorePlugin = NodeResourcesBalancedAllocation{}
)

// NodeResourcesLeastAllocated prefers nodes with the most free cpu and
// memory after placing the pod (upstream's NodeResourcesFit score with the
// LeastAllocated strategy, cpu and memory weighted 1 each). Requests count
// with upstream's non-zero defaults, so pods without requests still spread.
type NodeResourcesLeastAllocated struct{}

func (NodeResourcesLeastAllocated) Name() string  { return "NodeResourcesFit" }
func (NodeResourcesLeastAllocated) Weight() int64 { return 1 }

func (NodeResourcesLeastAllocated) Score(c *Cycle, n *NodeInfo) int64 {
	cpu := leastRequested(n.NonZero.MilliCPU+c.Pod.NonZero.MilliCPU, n.Allocatable.MilliCPU)
	mem := leastRequested(n.NonZero.Memory+c.Pod.NonZero.Memory, n.Allocatable.Memory)
	return (cpu + mem) / 2
}

func (NodeResourcesLeastAllocated) Normalize(*Cycle, []int64) {}

func leastRequested(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * MaxNodeScore / capacity
}

// NodeResourcesBalancedAllocation prefers nodes whose cpu and memory would
// be used in the same proportion: score = (1 - std(fractions)) * 100.
type NodeResourcesBalancedAllocation struct{}

func (NodeResourcesBalancedAllocation) Name() string  { return "NodeResourcesBalancedAllocation" }
func (NodeResourcesBalancedAllocation) Weight() int64 { return 1 }

func (NodeResourcesBalancedAllocation) Score(c *Cycle, n *NodeInfo) int64 {
	cpu := fraction(n.NonZero.MilliCPU+c.Pod.NonZero.MilliCPU, n.Allocatable.MilliCPU)
	mem := fraction(n.NonZero.Memory+c.Pod.NonZero.Memory, n.Allocatable.Memory)
	// The standard deviation of two values is half their distance.
	std := math.Abs(cpu-mem) / 2
	return int64((1 - std) * MaxNodeScore)
}

func (NodeResourcesBalancedAllocation) Normalize(*Cycle, []int64) {}

func fraction(requested, capacity int64) float64 {
	if capacity == 0 {
		return 1
	}
	return min(float64(requested)/float64(capacity), 1)
}
