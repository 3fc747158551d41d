package logscan

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events"
)

// A long read is split into chunks of chunkSeqs sequences read in turn
// over two connections: a client parses every message's headers on its
// connection's one reading goroutine, which bounds a single connection's
// throughput, while the fold itself is cheap.
var (
	chunkSeqs   uint64 = 16384
	parallelMin        = 4 * chunkSeqs // shorter reads keep to one connection
)

const chunksAhead = 4 // chunks read before the fold reaches them

// readerConn opens a second connection like log's, for reading only: none
// of the application's handlers, no reconnection (a failed read fails).
func readerConn(log *events.Log) (*nats.Conn, error) {
	o := log.JetStream().Conn().Opts
	o.Name += " (parallel reader)"
	o.AllowReconnect = false
	o.ClosedCB, o.DisconnectedCB, o.DisconnectedErrCB, o.ConnectedCB = nil, nil, nil, nil
	o.ReconnectedCB, o.ReconnectErrCB, o.DiscoveredServersCB, o.AsyncErrorCB = nil, nil, nil, nil
	o.LameDuckModeHandler = nil
	return o.Connect()
}

// readers are the second connections of parallel reads, one per log
// connection, opened on first use and closed with it.
var readers struct {
	sync.Mutex
	conns map[*nats.Conn]*nats.Conn
}

// SharedReader is the second connection for log's parallel reads, opened
// on first use and closed with log's; ok is false when none can be opened
// (then read over one).
func SharedReader(log *events.Log) (*nats.Conn, bool) {
	main := log.JetStream().Conn()
	readers.Lock()
	defer readers.Unlock()
	if c := readers.conns[main]; c != nil && !c.IsClosed() {
		return c, true
	}
	if main.IsClosed() {
		return nil, false
	}
	c, err := readerConn(log)
	if err != nil {
		return nil, false
	}
	closed := main.StatusChanged(nats.CLOSED)
	if main.IsClosed() { // closed meanwhile: the listener may have missed it
		main.RemoveStatusListener(closed)
		c.Close()
		return nil, false
	}
	if readers.conns == nil {
		readers.conns = map[*nats.Conn]*nats.Conn{}
	}
	readers.conns[main] = c
	go func() {
		<-closed
		c.Close()
		readers.Lock()
		if readers.conns[main] == c {
			delete(readers.conns, main)
		}
		readers.Unlock()
	}()
	return c, true
}

// chunk is one range of sequences on its way to the fold.
type chunk[T any] struct {
	from, to uint64
	jobs     chan *job[T]  // every job of the chunk, in order; closed at the end
	err      error         // why reading stopped, set before jobs is closed
	applied  chan struct{} // closed once the fold has applied the chunk
}

// scanParallel is Prepared for long reads (see chunkSeqs), reading over
// log's connection and conn2. It stops at apply's error, at the first
// event it cannot decode or at a read error, having applied every event
// before it.
func scanParallel[T any](ctx context.Context, log *events.Log, conn2 *nats.Conn, filter string, from, to uint64, work chan<- *job[T], apply func(T) error) error {
	var chunks []*chunk[T]
	for lo := from; lo <= to; lo += chunkSeqs {
		hi := min(to, lo+chunkSeqs-1)
		chunks = append(chunks, &chunk[T]{from: lo, to: hi, jobs: make(chan *job[T], chunkSeqs/batchSize+1), applied: make(chan struct{})})
		if hi == to {
			break
		}
	}
	defer loosenGC()()
	quit := make(chan struct{})
	var wg sync.WaitGroup
	conns := []*nats.Conn{log.JetStream().Conn(), conn2}
	for r, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := r; c < len(chunks); c += len(conns) {
				if c >= chunksAhead {
					select {
					case <-chunks[c-chunksAhead].applied:
					case <-quit:
						return
					}
				}
				readChunk(ctx, log, nc, filter, chunks[c], work, quit)
			}
		}()
	}
	err := func() error {
		for _, ch := range chunks {
			for j := range ch.jobs {
				<-j.done
				for _, p := range j.out[:j.n] {
					if err := apply(p); err != nil {
						return err
					}
				}
				if j.err != nil {
					return j.err
				}
			}
			if ch.err != nil {
				return ch.err
			}
			close(ch.applied)
			paceGC()
		}
		return nil
	}()
	close(quit)
	wg.Wait()
	return err
}

// readChunk reads one chunk into jobs for the workers and the fold.
func readChunk[T any](ctx context.Context, log *events.Log, nc *nats.Conn, filter string, ch *chunk[T], work chan<- *job[T], quit <-chan struct{}) {
	defer close(ch.jobs)
	batch := make([]Msg, 0, batchSize)
	send := func() {
		if len(batch) == 0 {
			return
		}
		j := &job[T]{msgs: batch, done: make(chan struct{})}
		batch = make([]Msg, 0, batchSize)
		ch.jobs <- j // never blocks: room for the whole chunk
		work <- j
	}
	ch.err = ConsumeOn(ctx, log, nc, filter, ch.from, ch.to, false, func(m Msg) error {
		batch = append(batch, m)
		if len(batch) == batchSize {
			send()
			select {
			case <-quit:
				return ErrStop
			default:
			}
		}
		return nil
	})
	send()
}
