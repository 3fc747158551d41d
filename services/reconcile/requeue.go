package reconcile

import (
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// RequeueFunc is a Loop's one mechanism for time-driven work, as
// controller-runtime's Result.RequeueAfter: asked after each successful
// reconcile of key, it says how long until time alone may change the
// decision (a deadline, a schedule, minReadySeconds, a periodic resync);
// zero means never. Pure, like Func: now is the reconcile's.
type RequeueFunc func(view View, key events.Ref, now time.Time) time.Duration

// Overdue is how soon a key is asked again when its due time has passed
// but its reconcile did not act on it (a start a concurrency policy
// forbids, a deadline a status write has yet to record).
const Overdue = time.Second

// Until is a RequeueFunc's answer for a decision due at due: the time left,
// or Overdue once due has passed.
func Until(now, due time.Time) time.Duration {
	if d := due.Sub(now); d > 0 {
		return d
	}
	return Overdue
}

// Every requeues a key d after each reconcile while its object exists and
// while holds for it (nil: always): the periodic resync of
// controller-runtime's SyncPeriod, kept per key, for state a missed change
// or the world outside the log may have moved.
func Every(d time.Duration, while func(View, *projections.Object) bool) RequeueFunc {
	return func(view View, key events.Ref, _ time.Time) time.Duration {
		o, ok := view.Get(key)
		if !ok || (while != nil && !while(view, o)) {
			return 0
		}
		return d
	}
}

// Sooner is the earliest requeue any of fs asks for.
func Sooner(fs ...RequeueFunc) RequeueFunc {
	return func(view View, key events.Ref, now time.Time) time.Duration {
		var out time.Duration
		for _, f := range fs {
			if d := f(view, key, now); d > 0 && (out == 0 || d < out) {
				out = d
			}
		}
		return out
	}
}

// AllOf is a Loop's ResyncKeys that lists every object of the resource.
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
