package reconcile

import (
	"sync"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

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
