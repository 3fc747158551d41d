package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
)

// Anchor is the stream WAKE as a v2 seal found it: its first and last
// sequence and the retention limits in force. Verify uses it to tell
// events retention discarded from events removed otherwise.
type Anchor struct {
	First uint64 `json:"first"` // the stream's first sequence (the oldest retained event)
	Last  uint64 `json:"last"`  // its last sequence
	// FirstTime is when the server stored the event at First: no event
	// from First on was stored before it.
	FirstTime time.Time `json:"firstTime"`
	Retention Retention `json:"retention"`
}

// Retention is what JetStream discards on its own: the stream's limits.
// 0 (or -1) is none.
type Retention struct {
	MaxAge            time.Duration `json:"maxAge"` // nanoseconds
	MaxBytes          int64         `json:"maxBytes"`
	MaxMsgs           int64         `json:"maxMsgs"`
	MaxMsgsPerSubject int64         `json:"maxMsgsPerSubject"`
}

func retentionOf(c jetstream.StreamConfig) Retention {
	return Retention{MaxAge: c.MaxAge, MaxBytes: c.MaxBytes, MaxMsgs: c.MaxMsgs, MaxMsgsPerSubject: c.MaxMsgsPerSubject}
}

// None reports whether no limit is set.
func (r Retention) None() bool {
	return r.MaxAge <= 0 && r.MaxBytes <= 0 && r.MaxMsgs <= 0 && r.MaxMsgsPerSubject <= 0
}

func (r Retention) String() string {
	if r.None() {
		return "no retention limit"
	}
	s := ""
	add := func(f string, a ...any) {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf(f, a...)
	}
	if r.MaxAge > 0 {
		add("max age %s", r.MaxAge)
	}
	if r.MaxBytes > 0 {
		add("max bytes %d", r.MaxBytes)
	}
	if r.MaxMsgs > 0 {
		add("max msgs %d", r.MaxMsgs)
	}
	if r.MaxMsgsPerSubject > 0 {
		add("max msgs per subject %d", r.MaxMsgsPerSubject)
	}
	return s
}

// canonical is what the chain hashes of an anchor.
func (a *Anchor) canonical() string {
	r := a.Retention
	return fmt.Sprintf("stream %d %d %s retention %d %d %d %d", a.First, a.Last, a.FirstTime.UTC().Format(time.RFC3339Nano),
		r.MaxAge, r.MaxBytes, r.MaxMsgs, r.MaxMsgsPerSubject)
}

// anchorOf reads the log's stream as it is now.
func anchorOf(ctx context.Context, log *events.Log) (*Anchor, error) {
	info, err := log.Stream().Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: anchor: %w", err)
	}
	return &Anchor{First: info.State.FirstSeq, Last: info.State.LastSeq, FirstTime: info.State.FirstTime.UTC(), Retention: retentionOf(info.Config)}, nil
}
