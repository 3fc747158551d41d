package history

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
)

// Replay folds the log into base (projections.NewState() to replay from
// the start, or a snapshot) up to and including resourceVersion to. Events
// the fold refuses are skipped as the projection skips them; their count is
// returned.
func Replay(ctx context.Context, log *events.Log, base *projections.State, to uint64) (st *projections.State, skipped int, err error) {
	first, _, err := bounds(ctx, log)
	if err != nil {
		return nil, 0, err
	}
	if base.Seq() == 0 && first > 1 {
		return nil, 0, fmt.Errorf("%w: events 1 to %d were discarded; replay from a snapshot", ErrBeyondRetention, first-1)
	}
	err = scanPrepared(ctx, log, "", base.Seq()+1, to, func(p projections.Prepared) error {
		if _, err := base.ApplyPrepared(p); err != nil {
			skipped++
		}
		return nil
	})
	return base, skipped, err
}

// FirstDifference names the first object (in subject order) whose state
// differs between a and b, "" when they are equal object for object.
func FirstDifference(a, b *projections.State) (string, error) {
	la, err := snapshotLines(a)
	if err != nil {
		return "", err
	}
	lb, err := snapshotLines(b)
	if err != nil {
		return "", err
	}
	i, j := 0, 0
	for i < len(la) || j < len(lb) {
		switch {
		case i == len(la):
			return lb[j].Subject, nil
		case j == len(lb):
			return la[i].Subject, nil
		case la[i].Subject < lb[j].Subject:
			return la[i].Subject, nil
		case la[i].Subject > lb[j].Subject:
			return lb[j].Subject, nil
		case la[i].Seq != lb[j].Seq || !bytes.Equal(la[i].Object, lb[j].Object):
			return la[i].Subject, nil
		}
		i, j = i+1, j+1
	}
	return "", nil
}

type snapLine struct {
	Subject string          `json:"subject"`
	Seq     uint64          `json:"seq"`
	Object  json.RawMessage `json:"object"`
}

// snapshotLines lists a state's objects in subject order, through its
// snapshot encoding (the canonical form).
func snapshotLines(s *projections.State) ([]snapLine, error) {
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 0, 1<<20), 8<<20)
	sc.Scan() // header
	var out []snapLine
	for sc.Scan() {
		var l snapLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, sc.Err()
}
