package reconcile

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// AllOf is a Loop's ResyncKeys that resyncs every object of the resource.
func AllOf(group, resource string) func(View) []events.Ref {
	return func(view View) []events.Ref {
		objs, _ := view.List(group, resource, "")
		refs := make([]events.Ref, len(objs))
		for i, o := range objs {
			refs[i] = o.Ref
		}
		return refs
	}
}

// TimedResync is a Loop's ResyncKeys for controllers with time-driven work:
// every object of the resource on the first call and every full interval,
// else only those for which timed reports that only time will change them.
func TimedResync(group, resource string, full time.Duration, timed func(*projections.Object) bool) func(View) []events.Ref {
	var mu sync.Mutex
	var last time.Time
	return func(view View) []events.Ref {
		mu.Lock()
		all := last.IsZero() || time.Since(last) >= full
		if all {
			last = time.Now()
		}
		mu.Unlock()
		objs, _ := view.List(group, resource, "")
		var out []events.Ref
		for _, o := range objs {
			if all || timed(o) {
				out = append(out, o.Ref)
			}
		}
		return out
	}
}

// DueResync sets l.ResyncKeys to due(view, now, all): all is true on the
// first call (at start, every object), false after (only those due now);
// now is l.Now's, or the clock's.
func DueResync(l *Loop, due func(view View, now time.Time, all bool) []events.Ref) {
	var started atomic.Bool
	l.ResyncKeys = func(v View) []events.Ref {
		all := !started.Swap(true)
		now := time.Now()
		if l.Now != nil {
			now = l.Now()
		}
		return due(v, now, all)
	}
}
