package history

import (
	"context"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// foldBatch is how many messages one worker decodes and prepares at a time.
const foldBatch = 512

// foldJob is one batch of messages on its way to the fold.
type foldJob struct {
	msgs []rawMsg
	out  []projections.Prepared
	n    int   // how many of out are prepared: all but after a decode error
	err  error // the decode error at out[n]
	done chan struct{}
}

func (j *foldJob) prepare() {
	defer close(j.done)
	j.out = make([]projections.Prepared, len(j.msgs))
	for i, m := range j.msgs {
		ev, err := m.decode()
		if err != nil {
			j.err = err
			return
		}
		j.out[i] = projections.PrepareDecoded(ev)
		j.n = i + 1
	}
}

// scanPrepared is Scan for a fold: it calls apply for every event matching
// filter with from <= seq <= to, in order, prepared. Decoding and building
// objects (pure, per event) run on every core, ahead of apply, which runs
// on one goroutine at a time in stream order. Like Scan, it stops at
// apply's error or at the first event it cannot decode, having applied
// every event before it.
func scanPrepared(ctx context.Context, log *events.Log, filter string, from, to uint64, apply func(projections.Prepared) error) error {
	var g errgroup.Group
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *foldJob, 2*workers)
	order := make(chan *foldJob, 4*workers)
	for range workers {
		g.Go(func() error {
			for j := range work {
				j.prepare()
			}
			return nil
		})
	}
	if to >= from && to-from+1 >= parallelMin && workers > 1 {
		if conn2, ok := sharedReader(log); ok {
			err := scanParallel(ctx, log, conn2, filter, from, to, work, apply)
			close(work)
			_ = g.Wait()
			return err
		}
	}
	applyErr := make(chan error, 1)
	g.Go(func() error {
		var err error
		for j := range order {
			<-j.done
			if err != nil {
				continue // drain: the read is ending
			}
			for _, p := range j.out[:j.n] {
				if err = apply(p); err != nil {
					break
				}
			}
			if err == nil && j.err != nil {
				err = j.err
			}
			if err != nil {
				applyErr <- err
			}
		}
		return nil
	})
	var batch []rawMsg
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		j := &foldJob{msgs: batch, done: make(chan struct{})}
		batch = nil
		select {
		case order <- j:
		case err := <-applyErr:
			close(j.done)
			return err
		}
		work <- j
		return nil
	}
	var stopped error
	err := scan(ctx, log, filter, from, to, func(m rawMsg) error {
		batch = append(batch, m)
		if len(batch) < foldBatch {
			return nil
		}
		if err := send(); err != nil {
			stopped = err
			return errStop
		}
		select {
		case err := <-applyErr:
			stopped = err
			return errStop
		default:
			return nil
		}
	})
	if stopped == nil {
		stopped = send() // what was read before a read error is applied, as Scan would
	}
	close(work)
	close(order)
	_ = g.Wait()
	if stopped == nil {
		select {
		case stopped = <-applyErr:
		default:
		}
	}
	if stopped != nil {
		return stopped
	}
	return err
}
