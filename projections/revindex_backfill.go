package projections

import (
	"context"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections/logscan"
)

// backfillIndex extends the revision index, which after a restore starts
// at the snapshot's sequence (base), back to the start of the log: it reads
// the headers of events 1..base (subject and type are enough: the index
// keeps sequences), then merges them in front of what the index recorded
// since, in one step under the lock. Until it is done, time travel before
// base reads the log (AtIndex reports false), as without the index. It
// runs only when the log still holds event 1: with older events dropped by
// retention, the state before the first retained event is not in the log.
func (p *Projection) backfillIndex(ctx context.Context, log *events.Log, base uint64) {
	start := time.Now()
	older := map[resourceKey]map[objectKey][]uint64{}
	// The fold quarantined these (the snapshot recorded them): they are
	// no object's revision.
	quarantined := map[uint64]bool{}
	p.mu.RLock()
	for _, q := range p.state.Quarantined() {
		if q.Seq <= base {
			quarantined[q.Seq] = true
		}
	}
	p.mu.RUnlock()
	n := 0
	err := logscan.Consume(ctx, log, events.AllSubjects, 1, base, true, func(m logscan.Msg) error {
		ref, err := events.ParseSubject(m.Subject)
		if err != nil || quarantined[m.Seq] {
			return nil // not an object's event: nothing to index (the fold skips it too)
		}
		rk, ok := resourceKey{ref.Group, ref.Resource}, objectKey{ref.Namespace, ref.Name}
		coll := older[rk]
		if coll == nil {
			coll = map[objectKey][]uint64{}
			older[rk] = coll
		}
		seq := m.Seq
		if events.Type(m.Header.Get(events.HeaderType)) == events.ObjectDeleted {
			seq |= deletedBit
		}
		coll[ok] = append(coll[ok], seq)
		n++
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("revision index not extended before the snapshot; time travel before it reads the log", "base", base, "err", err)
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ix := p.index
	if ix == nil || ix.base != base {
		return // restored again meanwhile: this backfill is stale
	}
	for rk, coll := range older {
		cur := ix.colls[rk]
		if cur == nil {
			cur = map[objectKey][]uint64{}
			ix.colls[rk] = cur
		}
		for ok, seqs := range coll {
			// The index holds, for this object, the event in force at base
			// (seeded from the snapshot, also in seqs) and those after it.
			for _, s := range cur[ok] {
				if s&^deletedBit > base {
					seqs = append(seqs, s)
				}
			}
			cur[ok] = seqs
		}
	}
	ix.base = 0
	p.log.Info("revision index extended to the start of the log", "events", n, "took", time.Since(start).Round(time.Millisecond))
}
