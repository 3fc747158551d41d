package logscan

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// A long read allocates about 4.6 KB per event and keeps little of it:
// nats.go's copy of each message and its header map (over 60% of the
// bytes), the server's delivery, the decoded event. At the default GOGC
// of 100 the collector runs each time the heap doubles, which on a replay
// is every fraction of a second and a fifth of the CPU. While long reads
// run, the collector is paced more loosely, within a bound:
//
//   - GOGC up to longReadGCPercent (200: the heap may triple between
//     collections instead of doubling);
//   - never more than gcHeadroom above the heap goal GOGC=100 would set, so
//     a process with a large live heap (a big projection) gets little or
//     none of the raise;
//   - not at all when the operator set GOGC, or set the percent lower (or
//     off) in code: their choice stands.
//
// The live heap is re-read after every chunk, so a fold that grows the
// state keeps within the bound. When the last long read ends, the percent
// in force before the first one is restored.
//
// Measured on the 1,000,000-event replay benchmark (2 cores, idle): GOGC
// 100: 182,000 events/s, 660 MB peak RSS; 200: 206,000 events/s, 1.0 GB;
// 300: 212,000, 1.4 GB; 400: 213,000, 1.9 GB. 200 buys most of the gain.
const (
	longReadGCPercent = 200
	gcHeadroom        = 256 << 20
)

// gcPacing is the state shared by the long reads running at a time.
var gcPacing struct {
	sync.Mutex
	reads  int  // long reads running
	saved  int  // the percent before the first of them
	active bool // the percent is ours to set (no GOGC, not lowered)
}

// operatorGOGC is the GOGC environment variable; a test sets it.
var operatorGOGC = os.Getenv("GOGC")

// loosenGC starts a long read's pacing (see above) and returns the
// function that ends it.
func loosenGC() (end func()) {
	gcPacing.Lock()
	defer gcPacing.Unlock()
	if gcPacing.reads == 0 {
		gcPacing.active = false
		if operatorGOGC == "" {
			prev := debug.SetGCPercent(100)
			gcPacing.saved = prev
			if prev == 100 {
				gcPacing.active = true
			} else {
				debug.SetGCPercent(prev) // set in code: leave it
			}
		}
	}
	gcPacing.reads++
	paceGCLocked()
	var once sync.Once
	return func() {
		once.Do(func() {
			gcPacing.Lock()
			defer gcPacing.Unlock()
			gcPacing.reads--
			if gcPacing.reads == 0 && gcPacing.active {
				debug.SetGCPercent(gcPacing.saved)
				gcPacing.active = false
			}
		})
	}
}

// paceGC re-reads the live heap and sets the percent for it, while long
// reads run.
func paceGC() {
	gcPacing.Lock()
	defer gcPacing.Unlock()
	paceGCLocked()
}

func paceGCLocked() {
	if gcPacing.reads == 0 || !gcPacing.active {
		return
	}
	debug.SetGCPercent(longReadPercent(liveHeap()))
}

// longReadPercent is the GOGC for a live heap of live bytes: at most
// longReadGCPercent, and a heap goal at most gcHeadroom above GOGC=100's
// (goal = live * (1 + percent/100)).
func longReadPercent(live uint64) int {
	if live == 0 {
		return longReadGCPercent
	}
	return int(max(100, min(longReadGCPercent, 100+100*gcHeadroom/live)))
}

// liveHeap is the heap the last collection found live, 0 before the first.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
