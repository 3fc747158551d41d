package history

import (
	"context"
	"slices"
	"sync"

	"github.com/wakehq/wake/events"
)

// cacheMin is the fewest revisions worth keeping: shorter histories are
// read again faster than they take room.
var cacheMin = 1000

// cacheSize is how many histories are kept, the least recently used
// going first.
const cacheSize = 16

// cached is the whole history of one object up to a sequence: what
// Revisions answers without After, continued rather than re-read when
// asked again. The log is append-only, so revisions up to upto never
// change while the stream's first sequence stays where it was.
type cached struct {
	first uint64     // the stream's first sequence when read
	upto  uint64     // revisions up to this sequence are all in revs
	revs  []Revision // shared: never modified, only appended to a copy
	last  rawMsg     // the latest event read (its data continues the diffs)
}

type cacheKey struct {
	log *events.Log
	ref events.Ref
}

var revisionCache struct {
	sync.Mutex
	entries map[cacheKey]*cached
	used    []cacheKey // oldest first
}

func cacheGet(k cacheKey) *cached {
	c := &revisionCache
	c.Lock()
	defer c.Unlock()
	return c.entries[k]
}

func cachePut(k cacheKey, e *cached) {
	c := &revisionCache
	c.Lock()
	defer c.Unlock()
	if c.entries == nil {
		c.entries = map[cacheKey]*cached{}
	}
	if old := c.entries[k]; old != nil && old.upto > e.upto && old.first == e.first {
		return // a newer read got there first
	}
	c.used = slices.DeleteFunc(c.used, func(u cacheKey) bool { return u == k })
	c.used = append(c.used, k)
	c.entries[k] = e
	for len(c.used) > cacheSize {
		delete(c.entries, c.used[0])
		c.used = c.used[1:]
	}
}

// fromCache answers Revisions without After (first and last being the
// stream's bounds, last already cut at opts.Upto) by continuing the cached
// history of ref. ok is false when there is none that fits.
func fromCache(ctx context.Context, log *events.Log, ref events.Ref, opts Options, first, last uint64) (*History, bool, error) {
	k := cacheKey{log, ref}
	e := cacheGet(k)
	if e == nil || e.first != first || last < e.upto {
		return nil, false, nil
	}
	if last > e.upto {
		// Anything new? One direct get says, cheaper than a consumer.
		latest := e.last.Seq
		err := lastUpTo(ctx, log, []string{ref.Subject()}, last, func(m rawMsg) error {
			latest = m.Seq
			return nil
		})
		if err != nil {
			return nil, false, err
		}
		next := &cached{first: first, upto: last, revs: e.revs, last: e.last}
		if latest != e.last.Seq {
			var msgs []rawMsg
			err := scan(ctx, log, ref.Subject(), e.upto+1, last, func(m rawMsg) error {
				msgs = append(msgs, m)
				return nil
			})
			if err != nil {
				return nil, false, err
			}
			if len(msgs) > 0 {
				out := make([]Revision, len(msgs))
				if err := diffChunk(&e.last, msgs, out); err != nil {
					return nil, false, err
				}
				next.revs = append(slices.Clip(e.revs), revisionsOnly(out)...)
				next.last = msgs[len(msgs)-1]
			}
		}
		cachePut(k, next)
		e = next
	}
	h := &History{Ref: ref, FirstRetained: first, Revisions: e.revs, last: e.last.Data}
	if opts.Limit > 0 && len(h.Revisions) > opts.Limit {
		h.Revisions = h.Revisions[len(h.Revisions)-opts.Limit:]
		h.Truncated = true
	}
	return h, true, nil
}
