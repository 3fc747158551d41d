package logscan

import (
	"context"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/wakehq/wake/events"
)

// batchSize is how many messages one worker decodes and prepares at a time.
const batchSize = 512

// job is one batch of messages on its way to the fold.
type job[T any] struct {
	msgs []Msg
	out  []T
	n    int   // how many of out are prepared: all but after a decode error
	err  error // the decode error at out[n]
	done chan struct{}
}

func (j *job[T]) run(prepare func(events.Event) T, poison func(*events.DecodeError) T) {
	defer close(j.done)
	j.out = make([]T, len(j.msgs))
	var d events.Decoder
	for i, m := range j.msgs {
		ev, err := m.DecodeWith(&d)
		if err != nil {
			if poison == nil {
				j.err = err
				return
			}
			j.out[i] = poison(err.(*events.DecodeError))
		} else {
			j.out[i] = prepare(ev)
		}
		j.n = i + 1
	}
}

// Prepared calls apply for every event matching filter ("" for all) with
// from <= seq <= to, in stream order, with prepare's result for it.
// Decoding and prepare (pure, per event: projections.PrepareDecoded builds
// the object) run on every core, ahead of apply, which runs on one
// goroutine at a time. It stops at apply's error, having applied every
// event before it. A message that does not decode is handed to poison,
// whose result is applied in its place (the reader quarantines it and goes
// on); with poison nil, Prepared stops there with its *events.DecodeError.
func Prepared[T any](ctx context.Context, log *events.Log, filter string, from, to uint64, prepare func(events.Event) T, poison func(*events.DecodeError) T, apply func(T) error) error {
	var g errgroup.Group
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *job[T], 2*workers)
	order := make(chan *job[T], 4*workers)
	for range workers {
		g.Go(func() error {
			for j := range work {
				j.run(prepare, poison)
			}
			return nil
		})
	}
	if to >= from && to-from+1 >= parallelMin && workers > 1 {
		if conn2, ok := SharedReader(log); ok {
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
	batch := make([]Msg, 0, batchSize)
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		j := &job[T]{msgs: batch, done: make(chan struct{})}
		batch = make([]Msg, 0, batchSize)
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
	err := Consume(ctx, log, filter, from, to, false, func(m Msg) error {
		batch = append(batch, m)
		if len(batch) < batchSize {
			return nil
		}
		if err := send(); err != nil {
			stopped = err
			return ErrStop
		}
		select {
		case err := <-applyErr:
			stopped = err
			return ErrStop
		default:
			return nil
		}
	})
	if stopped == nil {
		stopped = send() // what was read before a read error is applied
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
