package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/wakehq/wake/events"
)

// Problem is one finding of Verify.
type Problem struct {
	Seq    uint64 `json:"seq,string"`
	Kind   string `json:"kind"` // altered, removed, inserted, undecodable, seal
	Detail string `json:"detail"`
}

// Report is what Verify found.
type Report struct {
	Seals        int       `json:"seals"`
	SealedEvents int       `json:"sealedEvents"`
	SealedUpTo   uint64    `json:"sealedUpTo,string"`
	LastSeq      uint64    `json:"lastSeq,string"`
	Discarded    int       `json:"discardedByRetention"`
	Problems     []Problem `json:"problems"`
	OK           bool      `json:"ok"`

	// Quarantined are sealed messages that are not events (sealed by
	// RawDigest, unaltered): the projection quarantines them. Not a
	// problem of the log's integrity.
	Quarantined []Problem `json:"quarantined,omitempty"`
}

// Verify re-reads every sealed event of log and checks it against the
// seals: each seal must continue the chain, and each sealed event must
// still be there with its digest.
func Verify(ctx context.Context, log *events.Log, seals *Seals) (*Report, error) {
	info, err := log.Stream().Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	first := info.State.FirstSeq
	r := &Report{LastSeq: info.State.LastSeq, Problems: []Problem{}}
	prev := ""
	err = seals.All(ctx, func(sl *Seal) error {
		r.Seals++
		if sl.Prev != prev {
			r.Problems = append(r.Problems, Problem{Seq: sl.First, Kind: "seal", Detail: fmt.Sprintf("seal %d does not continue the chain", sl.seq)})
		}
		if chain(sl.Prev, sl.Digests) != sl.Chain {
			r.Problems = append(r.Problems, Problem{Seq: sl.First, Kind: "seal", Detail: fmt.Sprintf("seal %d: digests do not hash to its chain", sl.seq)})
		}
		prev = sl.Chain
		r.SealedEvents += len(sl.Seqs)
		r.SealedUpTo = sl.Last
		want := make(map[uint64]string, len(sl.Seqs))
		for i, seq := range sl.Seqs {
			want[seq] = sl.Digests[i]
		}
		seen := map[uint64]bool{}
		check := func(ev events.Event) error {
			if ev.Seq > sl.Last {
				return errStop
			}
			seen[ev.Seq] = true
			d, ok := want[ev.Seq]
			switch {
			case !ok:
				r.Problems = append(r.Problems, Problem{Seq: ev.Seq, Kind: "inserted", Detail: fmt.Sprintf("%s %s was not in the log when it was sealed", ev.Type, ev.Ref)})
			case d != Digest(ev):
				r.Problems = append(r.Problems, Problem{Seq: ev.Seq, Kind: "altered", Detail: fmt.Sprintf("%s %s differs from the sealed event", ev.Type, ev.Ref)})
			}
			return nil
		}
		for from := sl.First; from <= sl.Last; {
			err := log.Read(ctx, from, "", check)
			var de *events.DecodeError
			switch {
			case errors.As(err, &de) && de.Seq <= sl.Last:
				seen[de.Seq] = true
				if d, ok := want[de.Seq]; ok && d == RawDigest(de) {
					// Sealed as it is: a message the projection quarantines.
					r.Quarantined = append(r.Quarantined, Problem{Seq: de.Seq, Kind: "quarantined", Detail: de.Error()})
				} else {
					r.Problems = append(r.Problems, Problem{Seq: de.Seq, Kind: "undecodable", Detail: de.Error()})
				}
				from = de.Seq + 1
				continue
			case err != nil && !errors.Is(err, errStop) && !errors.As(err, &de):
				return err
			}
			break
		}
		for _, seq := range sl.Seqs {
			switch {
			case seen[seq]:
			case seq < first:
				r.Discarded++
			default:
				r.Problems = append(r.Problems, Problem{Seq: seq, Kind: "removed", Detail: fmt.Sprintf("sealed event %d is missing from the log", seq)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.OK = len(r.Problems) == 0
	return r, nil
}

var errStop = errors.New("stop")
