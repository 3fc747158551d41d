package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
)

// Options tune delivery; the zero value is production's.
type Options struct {
	// Replicas of the WAKE_SINKS bucket when the service creates it.
	Replicas int
	// Timeout bounds one HTTP delivery; default 10s. It must stay below
	// AckWait (the first BackOff), or JetStream would redeliver an event
	// whose request is still running.
	Timeout time.Duration
	// Retry are the delays before the next attempt after a failed one
	// (non-2xx, timeout, connection error): the nth failure waits Retry[n-1],
	// the last repeating. Default 1s doubling to 10m (about two hours over
	// MaxDeliver attempts).
	Retry []time.Duration
	// MaxDeliver bounds attempts per event; default 20. Then the event is
	// terminated (logged) and the sink gets the next one.
	MaxDeliver int
	// BackOff is the consumer's redelivery schedule for events never
	// answered (the process died mid-delivery); its first entry is the ack
	// wait. Default 30s, 1m, 2m, 5m, 10m.
	BackOff []time.Duration
	// Client sends the events; default cloudevents.NewClientHTTP().
	Client cloudevents.Client
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if len(o.Retry) == 0 {
		for d := time.Second; d < 10*time.Minute; d *= 2 {
			o.Retry = append(o.Retry, d)
		}
		o.Retry = append(o.Retry, 10*time.Minute)
	}
	if o.MaxDeliver == 0 {
		o.MaxDeliver = 20
	}
	if len(o.BackOff) == 0 {
		o.BackOff = []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.Timeout >= o.BackOff[0]:
		return o, fmt.Errorf("sink: timeout %s must be below the ack wait %s", o.Timeout, o.BackOff[0])
	case len(o.BackOff) > o.MaxDeliver:
		return o, fmt.Errorf("sink: %d backoff steps exceed max deliver %d", len(o.BackOff), o.MaxDeliver)
	}
	if o.Client == nil {
		c, err := cloudevents.NewClientHTTP()
		if err != nil {
			return o, fmt.Errorf("sink: CloudEvents HTTP client: %w", err)
		}
		o.Client = c
	}
	return o, nil
}

// Service runs one delivery worker per registered sink.
type Service struct {
	js   jetstream.JetStream
	opts Options
}

// New is the service on js (the connection of the event log).
func New(js jetstream.JetStream, opts Options) *Service {
	return &Service{js: js, opts: opts}
}

// running is one sink's worker.
type running struct {
	rev    uint64
	cancel context.CancelFunc
	done   chan struct{}
}

// Run watches the registrations and keeps one worker per sink until ctx
// ends; it deletes the consumers of removed sinks, including those removed
// while no service ran.
func (s *Service) Run(ctx context.Context) error {
	opts, err := s.opts.withDefaults()
	if err != nil {
		return err
	}
	store, err := OpenStore(ctx, s.js, opts.Replicas)
	if err != nil {
		return err
	}
	stream, err := s.js.Stream(ctx, events.StreamName)
	if err != nil {
		return fmt.Errorf("sink: stream %s: %w", events.StreamName, err)
	}
	w, err := store.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("sink: watch %s: %w", Bucket, err)
	}
	defer w.Stop()

	workers := map[string]*running{}
	var wg sync.WaitGroup
	stop := func(name string) {
		if r := workers[name]; r != nil {
			r.cancel()
			<-r.done
			delete(workers, name)
		}
	}
	defer func() {
		for name := range workers {
			stop(name)
		}
		wg.Wait()
	}()
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil
		case e = <-w.Updates():
		}
		if e == nil { // the initial values are all in
			s.deleteOrphans(ctx, stream, workers, opts.Logger)
			continue
		}
		name := e.Key()
		if e.Operation() != jetstream.KeyValuePut {
			stop(name)
			if err := stream.DeleteConsumer(ctx, ConsumerName(name)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				opts.Logger.Warn("sink consumer not deleted", "sink", name, "err", err)
			} else {
				opts.Logger.Info("sink removed", "sink", name)
			}
			continue
		}
		if r := workers[name]; r != nil && r.rev == e.Revision() {
			continue
		}
		stop(name)
		reg, err := parse(e.Value())
		if err == nil && reg.Name != name {
			err = fmt.Errorf("%w: stored under %q but named %q", ErrInvalid, name, reg.Name)
		}
		if err != nil {
			opts.Logger.Warn("sink registration ignored", "sink", name, "err", err)
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		r := &running{rev: e.Revision(), cancel: cancel, done: make(chan struct{})}
		workers[name] = r
		wk := &worker{reg: reg, rev: e.Revision(), stream: stream, opts: opts}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(r.done)
			wk.supervise(wctx)
		}()
	}
}

// deleteOrphans removes sink consumers whose registration is gone.
func (s *Service) deleteOrphans(ctx context.Context, stream jetstream.Stream, workers map[string]*running, log *slog.Logger) {
	names := stream.ConsumerNames(ctx)
	var orphans []string
	for n := range names.Name() {
		if name, ok := strings.CutPrefix(n, consumerPrefix); ok && workers[name] == nil {
			orphans = append(orphans, n)
		}
	}
	if err := names.Err(); err != nil {
		log.Warn("sink consumers not listed", "err", err)
	}
	for _, n := range orphans {
		if err := stream.DeleteConsumer(ctx, n); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			log.Warn("orphan sink consumer not deleted", "consumer", n, "err", err)
		}
	}
}

// revisionKey is the consumer metadata naming the registration revision it
// was made for: a consumer of an older registration of the same name (the
// sink was removed and added again while no service ran) is replaced.
const revisionKey = "wake-sink-revision"

func (w *worker) consumerConfig() jetstream.ConsumerConfig {
	c := jetstream.ConsumerConfig{
		Durable:       ConsumerName(w.reg.Name),
		Description:   "wake sink " + w.reg.Name + " → " + w.reg.URL,
		FilterSubject: w.reg.FilterSubject(),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.opts.BackOff[0],
		BackOff:       w.opts.BackOff,
		MaxDeliver:    w.opts.MaxDeliver,
		// One delivery in flight: the sink sees the log's order, across
		// redeliveries too.
		MaxAckPending: 1,
		Metadata:      map[string]string{revisionKey: strconv.FormatUint(w.rev, 10)},
	}
	if w.reg.From > 1 {
		c.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		c.OptStartSeq = w.reg.From
	}
	return c
}

// ensureConsumer creates the sink's consumer, or adopts the existing one
// (keeping its position) when it was made for this registration.
func (w *worker) ensureConsumer(ctx context.Context) (jetstream.Consumer, error) {
	cfg := w.consumerConfig()
	if c, err := w.stream.Consumer(ctx, cfg.Durable); err == nil {
		if c.CachedInfo().Config.Metadata[revisionKey] != cfg.Metadata[revisionKey] {
			if err := w.stream.DeleteConsumer(ctx, cfg.Durable); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return nil, err
			}
		}
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, err
	}
	return w.stream.CreateOrUpdateConsumer(ctx, cfg)
}
