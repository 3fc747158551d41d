package eviction

import (
	"slices"
	"testing"
)

func TestRankPIDs(t *testing.T) {
	cand := func(name string, priority int32, procs int64) pidCandidate {
		return pidCandidate{evictedPod: evictedPod{Pod: evictPod(name, "", "", priority)}, procs: procs, known: true}
	}
	for _, tt := range []struct {
		name  string
		cands []pidCandidate
		want  []string
	}{
		{"lower priority first, whatever the count", []pidCandidate{
			cand("high", 1000, 50), cand("low", 0, 2),
		}, []string{"low", "high"}},
		{"then more processes", []pidCandidate{
			cand("few", 0, 2), cand("many", 0, 9), cand("some", 0, 5),
		}, []string{"many", "some", "few"}},
		{"no request plays a part: a pod within its memory request too", []pidCandidate{
			{evictedPod: evictedPod{Pod: evictPod("guaranteed", "64Mi", "64Mi", 0)}, procs: 9, known: true}, cand("besteffort", 0, 3),
		}, []string{"guaranteed", "besteffort"}},
		{"a pod without stats before the counted of its priority", []pidCandidate{
			cand("counted", 0, 9), {evictedPod: evictedPod{Pod: evictPod("unknown", "", "", 0)}}, cand("high", 10, 1),
		}, []string{"unknown", "counted", "high"}},
	} {
		rankPIDs(tt.cands)
		var got []string
		for _, c := range tt.cands {
			got = append(got, c.Pod.Name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPIDPressureMessage(t *testing.T) {
	th := Thresholds{}.WithDefaults()
	for _, tt := range []struct {
		m    Measures
		want string
	}{
		// 10% of 4096 as the kubelet computes it: 409 (float32 0.1), binary SI.
		{Measures{PIDs: 4000, PIDLimit: 4096}, "The node was low on resource: pids. Threshold quantity: 409, available: 96. "},
		// 10% of 40960 is 4096, "4Ki" in binary SI; 3000 free is "3k" in decimal SI.
		{Measures{PIDs: 37960, PIDLimit: 40960}, "The node was low on resource: pids. Threshold quantity: 4Ki, available: 3k. "},
	} {
		if got := pidPressureMessage(tt.m, th, evictPod("p", "1Mi", "", 0)); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.m, got, tt.want)
		}
	}
}
