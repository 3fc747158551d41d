package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"

	"github.com/wakehq/wake/projections"
)

// View is what the proxy reads of the projection.
type View interface {
	Ready() <-chan struct{}
	Seq() uint64
	Watch(from uint64) (*projections.Watcher, error)
	List(group, resource, namespace string) ([]*projections.Object, uint64)
}

// Config is one proxy.
type Config struct {
	View View
	// Conn opens the nftables connection; nftables.New(ConnOptions()...)
	// when nil (tests pass nftables.WithNetNSFd).
	Conn func() (*nftables.Conn, error)
	// Debounce gathers changes for this long after the first one before
	// programming them (default 10ms): one transaction per burst.
	Debounce time.Duration
	// RetryAfter is the wait before a failed update is retried as a full
	// replace (default 1s).
	RetryAfter time.Duration
	// ClusterCIDR is the pod network (Kernel.ClusterCIDR): pod traffic
	// leaving it is masqueraded. Empty: no such rule.
	ClusterCIDR string
	// Table is the nftables table (default TableName); tests sharing a
	// network namespace with a real agent use their own.
	Table string
	// OnFailure, when set, hears of each update the kernel refused (the
	// previous rules stay live; a full replace follows after RetryAfter).
	// It runs on the proxy's goroutine: it must not block for long.
	OnFailure func(err error)
	Logger    *slog.Logger
}

// Proxy follows the projection and keeps the node's table current.
type Proxy struct {
	cfg      Config
	log      *slog.Logger
	failures atomic.Uint64
	updates  atomic.Uint64

	mu     sync.Mutex
	synced uint64        // the projection sequence the live rules reflect
	wake   chan struct{} // closed and replaced when synced moves
}

// New fills cfg's defaults.
func New(cfg Config) *Proxy {
	if cfg.Table == "" {
		cfg.Table = TableName
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 10 * time.Millisecond
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Conn == nil {
		cfg.Conn = func() (*nftables.Conn, error) { return nftables.New(ConnOptions()...) }
	}
	return &Proxy{cfg: cfg, log: cfg.Logger.With("component", "proxy"), wake: make(chan struct{})}
}

// Failures counts rule updates the kernel refused (the previous rules
// stayed live); Updates counts the transactions that succeeded.
func (p *Proxy) Failures() uint64 { return p.failures.Load() }
func (p *Proxy) Updates() uint64  { return p.updates.Load() }

// Synced is the projection sequence the live rules reflect.
func (p *Proxy) Synced() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.synced
}

// WaitFor blocks until the live rules reflect the projection at seq.
func (p *Proxy) WaitFor(ctx context.Context, seq uint64) error {
	for {
		p.mu.Lock()
		done, wake := p.synced >= seq, p.wake
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *Proxy) markSynced(seq uint64) {
	p.mu.Lock()
	if seq > p.synced {
		p.synced = seq
		close(p.wake)
		p.wake = make(chan struct{})
	}
	p.mu.Unlock()
}

// Run programs the table until ctx ends. The rules stay in the kernel when
// it returns: the next Run replaces them in one transaction, so traffic
// keeps flowing across an agent restart.
func (p *Proxy) Run(ctx context.Context) error {
	select {
	case <-p.cfg.View.Ready():
	case <-ctx.Done():
		return nil
	}
	conn, err := p.cfg.Conn()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	k := NewKernelTable(conn, p.cfg.Table)
	if p.cfg.ClusterCIDR != "" {
		c, err := netip.ParsePrefix(p.cfg.ClusterCIDR)
		if err != nil {
			return fmt.Errorf("proxy: cluster CIDR: %w", err)
		}
		k.ClusterCIDR = c.Masked()
	}
	ix := NewIndex()
	if k.Existing() {
		p.log.Info("replacing the previous agent's table", "table", p.cfg.Table)
	}
	w, err := p.load(ix)
	if err != nil {
		return err
	}
	needReplace := !p.replace(k, ix, w.Pos())
	for {
		wait, cancel := ctx, context.CancelFunc(func() {})
		if needReplace {
			wait, cancel = context.WithTimeout(ctx, p.cfg.RetryAfter)
		}
		changes, err := w.Next(wait)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			needReplace = !p.replace(k, ix, w.Pos())
			continue
		case errors.Is(err, projections.ErrExpired):
			p.log.Warn("proxy fell behind the projection; reloading", "err", err)
			if w, err = p.load(ix); err != nil {
				return err
			}
			needReplace = !p.replace(k, ix, w.Pos())
			continue
		case err != nil:
			return err
		}
		if !ix.Apply(changes...) {
			if !needReplace {
				p.markSynced(w.Pos())
			}
			continue
		}
		// Gather the rest of the burst.
		until, cancel := context.WithTimeout(ctx, p.cfg.Debounce)
		for {
			more, err := w.Next(until)
			if err != nil {
				break
			}
			ix.Apply(more...)
		}
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if needReplace {
			needReplace = !p.replace(k, ix, w.Pos())
			continue
		}
		start := time.Now()
		changed := ix.Take()
		if err := k.Update(changed); err != nil {
			p.failures.Add(1)
			p.log.Error("service rules not updated; the previous rules stay live", "services", len(changed), "err", err)
			if p.cfg.OnFailure != nil {
				p.cfg.OnFailure(err)
			}
			needReplace = true
			continue
		}
		p.updates.Add(1)
		p.log.Debug("service rules updated", "services", len(changed), "took", time.Since(start))
		p.markSynced(w.Pos())
	}
}

// load fills ix from the projection and returns a watcher for what follows.
func (p *Proxy) load(ix *Index) (*projections.Watcher, error) {
	seq := p.cfg.View.Seq()
	w, err := p.cfg.View.Watch(seq)
	if err != nil {
		return nil, err
	}
	ix.Reset()
	svcs, _ := p.cfg.View.List("", "services", "")
	ix.Load(svcs)
	slices, _ := p.cfg.View.List("discovery.k8s.io", "endpointslices", "")
	ix.Load(slices)
	return w, nil
}

func (p *Proxy) replace(k *Kernel, ix *Index, seq uint64) bool {
	all := ix.All()
	if err := k.Replace(all); err != nil {
		p.failures.Add(1)
		p.log.Error("service rules not replaced; the previous rules stay live", "services", len(all), "err", err)
		return false
	}
	p.updates.Add(1)
	p.markSynced(seq)
	return true
}
