package projections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections/logscan"
)

// ErrExpired means a watch asked for changes older than the projection keeps
// in memory; Kubernetes clients answer it (410 Gone) by listing again.
var ErrExpired = errors.New("too old resource version")

// Options tune a Projection.
type Options struct {
	// History is how many recent changes are kept for watches that resume
	// from an older resourceVersion. Default 10,000.
	History int
	// SnapshotEvery is how many events pass between snapshots. Default 10,000.
	SnapshotEvery uint64
	// SnapshotInterval is the longest time between snapshots while events
	// arrive. Default 10 minutes; negative disables it.
	SnapshotInterval time.Duration
	// NoRevisionIndex leaves out the revision index (see AtIndex), which
	// costs about 8 bytes per event: roles that never answer time-travel
	// reads (agents, controllers) can do without it.
	NoRevisionIndex bool
	Logger          *slog.Logger
}

// Projection is the live state of the cluster, fed by the log. It is safe for
// concurrent use: one goroutine applies events (Run), any number read.
type Projection struct {
	opts Options
	log  *slog.Logger

	mu      sync.RWMutex
	state   *State
	history []Change // ring of recent changes, oldest at histHead
	histN   int
	head    int
	floor   uint64        // every change after floor is in history
	index   *revIndex     // nil with Options.NoRevisionIndex
	notify  chan struct{} // closed and replaced after every applied event
	skipped int           // events refused out of order (never from Run)

	// quarantinedNow counts the messages this process quarantined (the
	// metric wake_projection_quarantined_events_total, see QuarantineCount).
	quarantinedNow atomic.Uint64

	readyOnce sync.Once
	ready     chan struct{}

	gaps gapCheck // WaitFor's look at the log for sequences it lacks (gaps.go)
}

// New returns an empty projection; Run fills it.
func New(opts Options) *Projection {
	if opts.History <= 0 {
		opts.History = 10000
	}
	if opts.SnapshotEvery == 0 {
		opts.SnapshotEvery = 10000
	}
	if opts.SnapshotInterval == 0 {
		opts.SnapshotInterval = 10 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Projection{
		opts:    opts,
		log:     opts.Logger,
		state:   NewState(),
		history: make([]Change, opts.History),
		notify:  make(chan struct{}),
		ready:   make(chan struct{}),
	}
	if !opts.NoRevisionIndex {
		p.index = newRevIndex(p.state)
	}
	return p
}

// Run restores the latest snapshot (if snaps is not nil and has one), applies
// the log from there, marks the projection ready once it has caught up with
// the log as it was at start, and keeps applying new events until ctx ends.
//
// Messages the fold cannot apply are quarantined (see Quarantined) and
// never stop it. Run tells log which ones (events.Log.SetQuarantined), so
// that writers through log write over them.
func (p *Projection) Run(ctx context.Context, log *events.Log, snaps *Snapshots) error {
	log.SetQuarantined(p.IsQuarantined)
	if snaps != nil {
		if st, err := snaps.Load(ctx); err == nil {
			p.restore(st)
			p.log.Info("projection restored from snapshot", "seq", st.Seq(), "objects", st.Len())
		} else if !errors.Is(err, ErrNoSnapshot) {
			p.log.Warn("snapshot unusable, replaying the whole log", "err", err)
		}
	}
	p.gaps.log.Store(log)
	info, err := log.Stream().Info(ctx)
	if err != nil {
		return fmt.Errorf("projection: %w", err)
	}
	target := info.State.LastSeq
	if first := info.State.FirstSeq; first > p.Seq()+1 && info.State.LastSeq > p.Seq() {
		// Retention dropped events this state never applied: folding what is
		// left would build a wrong state, so refuse to serve one.
		return fmt.Errorf("projection: the log starts at event %d but the state (from %s) ends at %d: "+
			"events %d to %d were dropped by retention before a snapshot covered them",
			first, snapshotName(p.Seq()), p.Seq(), p.Seq()+1, first-1)
	}
	if base := p.Seq(); p.index != nil && base > 0 && info.State.FirstSeq <= 1 {
		go p.backfillIndex(ctx, log, base)
	}
	if p.Seq() >= target {
		p.markReady()
	}
	lastSnap, lastSnapAt := p.Seq(), time.Now()
	var snapMu sync.Mutex
	snapshot := func() {
		snapMu.Lock()
		seq := p.Seq()
		due := seq > lastSnap
		if due {
			lastSnap, lastSnapAt = seq, time.Now()
		}
		snapMu.Unlock()
		if due {
			p.saveSnapshot(ctx, snaps) // outside the lock: applying goes on meanwhile
		}
	}
	if snaps != nil && p.opts.SnapshotInterval > 0 {
		// A quiet log still gets snapshots, so that retention by age never
		// drops events that no snapshot covers.
		go func() {
			t := time.NewTicker(p.opts.SnapshotInterval)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					snapMu.Lock()
					due := time.Since(lastSnapAt) >= p.opts.SnapshotInterval
					snapMu.Unlock()
					if due {
						snapshot()
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	applied := func(seq uint64) {
		if seq >= target {
			p.markReady()
		}
		snapMu.Lock()
		due := snaps != nil && seq-lastSnap >= p.opts.SnapshotEvery
		snapMu.Unlock()
		if due {
			snapshot()
		}
	}
	if target > p.Seq() {
		// Catch up with the log as it was at start with decoding and
		// building objects on every core, ahead of the ordered fold
		// (logscan.Prepared); then follow it event by event.
		err = logscan.Prepared(ctx, log, "", p.Seq()+1, target, PrepareDecoded, PrepareUndecodable, func(prep Prepared) error {
			p.apply(prep)
			applied(prep.Event.Seq)
			return nil
		})
		if err != nil && ctx.Err() == nil {
			// A read failed (not an event): the subscription below,
			// which recovers from such failures, goes on from here.
			p.log.Warn("projection: parallel catch-up stopped, following the log from there", "seq", p.Seq(), "err", err)
			err = nil
		}
	}
	if p.Seq() < target {
		// The log's end may be sequences it no longer holds (gaps.go):
		// WaitFor moves over them.
		var waiter sync.WaitGroup
		defer waiter.Wait()
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		waiter.Go(func() {
			if p.WaitFor(wctx, target) == nil {
				p.markReady()
			}
		})
	}
	if err == nil {
		err = log.SubscribeSkipping(ctx, p.Seq()+1, "", func(ev events.Event) error {
			p.apply(PrepareDecoded(ev)) // Subscribe's events come from events.Decode
			applied(ev.Seq)
			return nil
		}, func(de *events.DecodeError) error {
			p.apply(PrepareUndecodable(de))
			applied(de.Seq)
			return nil
		})
	}
	snapMu.Lock()
	final := snaps != nil && p.Seq() > lastSnap
	snapMu.Unlock()
	if final {
		// Save what we have for the next start; ctx is done, so use a fresh one.
		p.saveSnapshot(context.WithoutCancel(ctx), snaps)
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func snapshotName(seq uint64) string {
	if seq == 0 {
		return "the empty state"
	}
	return fmt.Sprintf("the snapshot at %d", seq)
}

func (p *Projection) saveSnapshot(ctx context.Context, snaps *Snapshots) {
	p.mu.RLock()
	seq, objs, quarantined := p.state.seq, p.state.all(), p.state.Quarantined()
	p.mu.RUnlock()
	if err := snaps.Save(ctx, seq, objs, quarantined); err != nil {
		p.log.Warn("snapshot not saved", "seq", seq, "err", err)
	}
}

func (p *Projection) restore(st *State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = st
	p.floor = st.seq
	p.histN, p.head = 0, 0
	if p.index != nil {
		p.index = newRevIndex(st)
	}
}

func (p *Projection) markReady() { p.readyOnce.Do(func() { close(p.ready) }) }

// Ready is closed once the projection has caught up with the log as it was
// when Run started. Serve nothing before.
func (p *Projection) Ready() <-chan struct{} { return p.ready }

// Apply folds one event and wakes waiters and watchers. An event the fold
// refuses is logged and skipped (every replica skips it alike).
func (p *Projection) Apply(ev events.Event) { p.apply(Prepare(ev)) }

func (p *Projection) apply(prep Prepared) {
	p.mu.Lock()
	ch, err := p.state.ApplyPrepared(prep)
	var qe *QuarantineError
	if errors.As(err, &qe) {
		p.quarantinedNow.Add(1)
		p.log.Warn("event quarantined: the projection folds on as if it were absent", "seq", qe.Seq, "subject", qe.Subject, "reason", qe.Reason)
	} else if err != nil {
		p.skipped++
		p.log.Error("event skipped by projection", "seq", prep.Event.Seq, "err", err)
	} else {
		p.record(ch)
		if p.index != nil {
			p.index.record(ch)
		}
	}
	close(p.notify)
	p.notify = make(chan struct{})
	p.mu.Unlock()
}

func (p *Projection) record(ch Change) {
	size := len(p.history)
	if p.histN == size {
		p.floor = p.history[p.head].Seq
		p.history[p.head] = ch
		p.head = (p.head + 1) % size
		return
	}
	p.history[(p.head+p.histN)%size] = ch
	p.histN++
}

// Seq is the sequence of the last event applied: the resourceVersion of a list.
func (p *Projection) Seq() uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.state.seq
}

// WaitFor blocks until the projection has applied seq, so that a client reads
// its own writes. A sequence the log no longer holds does not keep it
// waiting: after gapCheckAfter it asks the log what it lacks (gaps.go).
func (p *Projection) WaitFor(ctx context.Context, seq uint64) error {
	var check *time.Timer
	defer func() {
		if check != nil {
			check.Stop()
		}
	}()
	for {
		p.mu.RLock()
		done, wake := p.state.seq >= seq, p.notify
		p.mu.RUnlock()
		log := p.gaps.log.Load()
		if done {
			return nil
		}
		var checkC <-chan time.Time
		if log != nil {
			if check == nil {
				check = time.NewTimer(gapCheckAfter)
			}
			checkC = check.C
		}
		select {
		case <-wake:
		case <-checkC:
			if err := p.skipGapOnce(ctx, log); err != nil && ctx.Err() == nil {
				p.log.Warn("projection: could not check the log for missing events", "err", err)
			}
			check.Reset(gapCheckAfter)
		case <-ctx.Done():
			return fmt.Errorf("waiting for resourceVersion %d: %w", seq, ctx.Err())
		}
	}
}

// Get returns one live object.
func (p *Projection) Get(ref events.Ref) (*Object, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.state.Get(ref)
}

// List returns a collection's live objects (namespace "" = all namespaces) and
// the resourceVersion they are current at.
func (p *Projection) List(group, resource, namespace string) ([]*Object, uint64) {
	p.mu.RLock()
	objs, seq := p.state.List(group, resource, namespace), p.state.seq
	p.mu.RUnlock()
	return objs, seq
}

// Hash is the digest of the current state (see State.Hash).
func (p *Projection) Hash() (uint64, string) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.state.seq, p.state.Hash()
}

// Watcher reads the changes after a resourceVersion, in order.
type Watcher struct {
	p   *Projection
	pos uint64
}

// Watch returns a watcher positioned after resourceVersion from. It fails
// with ErrExpired when changes after from are no longer kept.
func (p *Projection) Watch(from uint64) (*Watcher, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if from < p.floor {
		return nil, fmt.Errorf("%w: %d is older than %d", ErrExpired, from, p.floor)
	}
	return &Watcher{p: p, pos: from}, nil
}

// Pos is the resourceVersion the watcher has seen everything up to.
func (w *Watcher) Pos() uint64 { return w.pos }

// Next blocks until there are changes after the watcher's position and
// returns them all. Changes are shared: callers must not modify them.
func (w *Watcher) Next(ctx context.Context) ([]Change, error) {
	p := w.p
	for {
		p.mu.RLock()
		if w.pos < p.floor {
			p.mu.RUnlock()
			return nil, fmt.Errorf("%w: the watcher fell behind at %d", ErrExpired, w.pos)
		}
		out := p.changesAfter(w.pos)
		seq, wake := p.state.seq, p.notify
		p.mu.RUnlock()
		if seq > w.pos {
			w.pos = seq
		}
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// changesAfter copies the kept changes with Seq > pos. Call with p.mu held.
func (p *Projection) changesAfter(pos uint64) []Change {
	size := len(p.history)
	at := func(i int) Change { return p.history[(p.head+i)%size] }
	i := sort.Search(p.histN, func(i int) bool { return at(i).Seq > pos })
	out := make([]Change, 0, p.histN-i)
	for ; i < p.histN; i++ {
		out = append(out, at(i))
	}
	return out
}

// Quarantined lists every message of the log the fold quarantined, by
// sequence, including those a restored snapshot recorded (see
// State.Quarantined). The slice is shared: do not modify it.
func (p *Projection) Quarantined() []Quarantined {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.state.Quarantined()
}

// QuarantineCount is the number of messages this projection quarantined
// since it started (a counter, for the metric
// wake_projection_quarantined_events_total); Quarantined is the whole
// record.
func (p *Projection) QuarantineCount() uint64 { return p.quarantinedNow.Load() }

// WriteSnapshot writes the current state as State.WriteSnapshot does.
func (p *Projection) WriteSnapshot(w io.Writer) error {
	p.mu.RLock()
	seq, objs, quarantined := p.state.seq, p.state.all(), p.state.Quarantined()
	p.mu.RUnlock()
	return writeSnapshot(w, seq, objs, quarantined)
}

// IsQuarantined reports whether the fold quarantined the message at seq.
func (p *Projection) IsQuarantined(seq uint64) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	q := p.state.quarantined
	i := sort.Search(len(q), func(i int) bool { return q[i].Seq >= seq })
	return i < len(q) && q[i].Seq == seq
}
