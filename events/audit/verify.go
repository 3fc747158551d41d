package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/wakehq/wake/events"
)

// Problem is one finding of Verify: an event, or the range Seq..Through.
type Problem struct {
	Seq     uint64 `json:"seq,string"`
	Through uint64 `json:"through,string,omitempty"` // the last sequence of a range; 0 for one event
	// Kind: altered, removed (from the middle of the log), purged (from
	// its head, unexplained by retention), inserted, undecodable,
	// unsigned, forged (a signature that does not match), untrusted (a
	// signer not trusted, or not for this subject), seal, removal (a
	// removal record that is not trusted or names another event).
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Range is the problem's sequences as text: "7" or "1-20".
func (p Problem) Range() string {
	if p.Through > p.Seq {
		return fmt.Sprintf("%d-%d", p.Seq, p.Through)
	}
	return fmt.Sprint(p.Seq)
}

// Report is what Verify found.
type Report struct {
	Seals        int    `json:"seals"`
	SealedEvents int    `json:"sealedEvents"`
	SealedUpTo   uint64 `json:"sealedUpTo,string"`
	FirstSeq     uint64 `json:"firstSeq,string"`
	LastSeq      uint64 `json:"lastSeq,string"`
	// Retention is the stream's limits now.
	Retention string `json:"retention"`
	// Discarded counts the events missing at the head that the retention
	// limits in force since they were stored explain.
	Discarded int `json:"discardedByRetention"`
	// Removed are the removals operators recorded (`wake audit remove`):
	// Verify skips those events, present or not.
	Removed []Removal `json:"removed"`
	// Signatures is "checked" or why not.
	Signatures string `json:"signatures"`
	// SignedEvents is how many events carry a valid trusted signature
	// (any signature when signatures are not checked); SignedFrom is the
	// first of them; UnsignedBeforeSigning counts older unsigned events,
	// written before wake signed (accepted as such).
	SignedEvents          int       `json:"signedEvents"`
	SignedFrom            uint64    `json:"signedFrom,string"`
	UnsignedBeforeSigning int       `json:"unsignedBeforeSigning"`
	Problems              []Problem `json:"problems"`
	OK                    bool      `json:"ok"`
	// Quarantined are messages that are not events, as they were sealed
	// (RawDigest) or not sealed yet: the projection quarantines them.
	// Once the log is signed they are problems too (no wake writer wrote
	// them) until an operator records their removal.
	Quarantined []Problem `json:"quarantined,omitempty"`
}

// VerifyOptions are what Verify trusts.
type VerifyOptions struct {
	// Trust is the keys wake's writers sign with. Empty: signatures are
	// not checked (Report.Signatures says so).
	Trust Trust
	// Now is the clock (default time.Now): a max age explains an
	// event's absence only once it can have expired.
	Now func() time.Time
}

// NotChecked is Report.Signatures without a Trust.
const NotChecked = "not checked: no trusted signers were given"

// clockSkew is how far the sealer's clock may be ahead of the one that
// stamped the stream before a max age is found not to explain a removal.
const clockSkew = time.Minute

// Verify re-reads the log and checks it against the seals: each seal
// must continue the chain; each sealed event must still be there with
// its digest; every event must be signed by a trusted signer (after the
// first signed event, with opts.Trust); and every event missing (sealed,
// or a gap the sealer met, or before the first retained one) must be
// explained by the retention limits in force since it was stored, or by
// an operator's removal record. Findings name the event or the range.
func Verify(ctx context.Context, log *events.Log, seals *Seals, opts VerifyOptions) (*Report, error) {
	v, err := newVerifier(ctx, log, seals, opts)
	if err != nil {
		return nil, err
	}
	if err := seals.All(ctx, v.seal); err != nil {
		return nil, err
	}
	if err := v.tail(ctx); err != nil {
		return nil, err
	}
	v.classify()
	r := v.r
	slices.SortStableFunc(r.Problems, func(a, b Problem) int { return cmpUint(a.Seq, b.Seq) })
	r.OK = len(r.Problems) == 0
	return r, nil
}

// sealMeta is what Verify keeps of each seal once its events are checked.
type sealMeta struct {
	seq    uint64 // in WAKE_AUDIT
	time   time.Time
	anchor *Anchor // nil for v1
}

// hole is the sequences from..to, missing from the log. seal is the seal
// that sealed them (sealed), or whose range they are a gap in, or, after
// the last seal (tail), the last seal (-1 if none).
type hole struct {
	from, to     uint64
	seal         int
	sealed, tail bool
}

type verifier struct {
	ctx      context.Context
	log      *events.Log
	opts     VerifyOptions
	keys     map[string]ed25519.PublicKey
	r        *Report
	current  Retention
	removals map[uint64]*Removal
	metas    []sealMeta
	holes    []hole
	prev     string
}

func newVerifier(ctx context.Context, log *events.Log, seals *Seals, opts VerifyOptions) (*verifier, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	keys, err := opts.Trust.keys()
	if err != nil {
		return nil, err
	}
	info, err := log.Stream().Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	v := &verifier{ctx: ctx, log: log, opts: opts, keys: keys, current: retentionOf(info.Config),
		r: &Report{FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq, Problems: []Problem{}, Removed: []Removal{}, Signatures: "checked"}}
	v.r.Retention = v.current.String()
	if len(opts.Trust) == 0 {
		v.r.Signatures = NotChecked
	}
	all, err := seals.removals(ctx, func(seq uint64, err error) {
		v.problem(0, 0, "removal", fmt.Sprintf("record %d of %s is not a removal record: %v", seq, StreamName, err))
	})
	if err != nil {
		return nil, err
	}
	v.removals = map[uint64]*Removal{}
	for _, rm := range all { // the first trusted record of a sequence counts
		if why := checkRemoval(rm, opts.Trust, keys); why != "" {
			v.problem(rm.Seq, 0, "removal", why)
			continue
		}
		if v.removals[rm.Seq] == nil {
			v.removals[rm.Seq] = rm
			v.r.Removed = append(v.r.Removed, *rm)
		}
	}
	slices.SortFunc(v.r.Removed, func(a, b Removal) int { return cmpUint(a.Seq, b.Seq) })
	return v, nil
}

func (v *verifier) problem(from, to uint64, kind, detail string) {
	p := Problem{Seq: from, Kind: kind, Detail: detail}
	if to > from {
		p.Through = to
	}
	v.r.Problems = append(v.r.Problems, p)
}

// seal checks one seal and the events it covers.
func (v *verifier) seal(sl *Seal) error {
	r := v.r
	r.Seals++
	if sl.Prev != v.prev {
		v.problem(sl.First, 0, "seal", fmt.Sprintf("seal %d does not continue the chain", sl.seq))
	}
	if chain(sl.Prev, sl.Digests, sl.Stream) != sl.Chain {
		v.problem(sl.First, 0, "seal", fmt.Sprintf("seal %d: digests do not hash to its chain", sl.seq))
	}
	v.prev = sl.Chain
	r.SealedEvents += len(sl.Seqs)
	r.SealedUpTo = sl.Last
	idx := len(v.metas)
	v.metas = append(v.metas, sealMeta{seq: sl.seq, time: sl.time, anchor: sl.Stream})

	want := make(map[uint64]string, len(sl.Seqs))
	for i, seq := range sl.Seqs {
		want[seq] = sl.Digests[i]
		if rm := v.removals[seq]; rm != nil && rm.Digest != "" && rm.Digest != sl.Digests[i] {
			v.problem(seq, 0, "removal", fmt.Sprintf("removal record %d (by %s) names another event than the one sealed at %d", rm.auditSeq, rm.Actor, seq))
		}
	}
	seen := map[uint64]bool{}
	check := func(ev events.Event) {
		if v.removals[ev.Seq] != nil {
			return
		}
		d, ok := want[ev.Seq]
		switch {
		case !ok:
			v.problem(ev.Seq, 0, "inserted", fmt.Sprintf("%s %s was not in the log when it was sealed", ev.Type, ev.Ref))
		case d != Digest(ev):
			v.problem(ev.Seq, 0, "altered", fmt.Sprintf("%s %s differs from the sealed event", ev.Type, ev.Ref))
		}
		v.signature(ev)
	}
	if sl.Last >= v.r.FirstSeq { // else it is all gone: nothing to read
		if err := v.read(sl.First, sl.Last, check, v.undecodable(want), func(seq uint64) { seen[seq] = true }); err != nil {
			return err
		}
	}
	// Sealed events now missing, and gaps the sealer met (events removed
	// before it read them), in sequence order.
	next := sl.First
	for _, seq := range sl.Seqs {
		if seq > next {
			v.hole(hole{from: next, to: seq - 1, seal: idx})
		}
		if !seen[seq] {
			v.hole(hole{from: seq, to: seq, seal: idx, sealed: true})
		}
		next = seq + 1
	}
	if next <= sl.Last {
		v.hole(hole{from: next, to: sl.Last, seal: idx})
	}
	return nil
}

// hole records missing sequences, joining a hole that continues the last.
func (v *verifier) hole(h hole) {
	if n := len(v.holes); n > 0 {
		l := &v.holes[n-1]
		if l.to+1 == h.from && l.seal == h.seal && l.sealed == h.sealed && l.tail == h.tail {
			l.to = h.to
			return
		}
	}
	v.holes = append(v.holes, h)
}

// read calls fn for every event from..to, bad for every message there that
// does not decode, and met for both.
func (v *verifier) read(from, to uint64, fn func(events.Event), bad func(*events.DecodeError), met func(uint64)) error {
	for from <= to {
		err := v.log.Read(v.ctx, from, "", func(ev events.Event) error {
			if ev.Seq > to {
				return errStop
			}
			met(ev.Seq)
			fn(ev)
			return nil
		})
		var de *events.DecodeError
		switch {
		case errors.As(err, &de) && de.Seq <= to:
			met(de.Seq)
			bad(de)
			from = de.Seq + 1
			continue
		case err != nil && !errors.Is(err, errStop) && !errors.As(err, &de):
			return err
		}
		return nil
	}
	return nil
}

// undecodable reports a message that is not an event, unless an operator
// recorded its removal. want are the digests its seal holds (nil after
// the last seal): sealed as it is (RawDigest), it is poison the
// projection quarantines and is listed as such; otherwise it changed
// since it was sealed.
func (v *verifier) undecodable(want map[uint64]string) func(*events.DecodeError) {
	return func(de *events.DecodeError) {
		if v.removals[de.Seq] != nil {
			return
		}
		d, sealed := want[de.Seq]
		if sealed && d != RawDigest(de) {
			v.problem(de.Seq, 0, "undecodable", de.Error())
			return
		}
		v.r.Quarantined = append(v.r.Quarantined, Problem{Seq: de.Seq, Kind: "quarantined", Detail: de.Error()})
		// No wake writer wrote it: once the log is signed and signatures
		// are checked, it is a finding, until an operator records its
		// removal (wake audit remove).
		if v.r.SignedFrom != 0 && len(v.opts.Trust) > 0 {
			v.problem(de.Seq, 0, "unsigned", "a message that is not an event (quarantined) came from no wake writer: "+de.Error())
		}
	}
}

// tail checks the events after the last seal: their signatures, and what
// is missing among them.
func (v *verifier) tail(ctx context.Context) error {
	r := v.r
	from := r.SealedUpTo + 1
	if len(v.metas) == 0 {
		from = max(r.FirstSeq, 1) // the sealer trusts the log as it first reads it
	}
	if n := len(v.metas); n > 0 && v.metas[n-1].anchor != nil && r.LastSeq < v.metas[n-1].anchor.Last {
		a := v.metas[n-1].anchor
		v.problem(r.LastSeq+1, a.Last, "seal", fmt.Sprintf("the log ends at %d, but seal %d saw it end at %d: it was recreated or restored from an older copy", r.LastSeq, v.metas[n-1].seq, a.Last))
	}
	next := from
	met := func(seq uint64) {
		if seq > next {
			v.hole(hole{from: next, to: seq - 1, seal: len(v.metas) - 1, tail: true})
		}
		next = seq + 1
	}
	err := v.read(from, r.LastSeq, func(ev events.Event) {
		if v.removals[ev.Seq] == nil {
			v.signature(ev)
		}
	}, v.undecodable(nil), met)
	if err != nil {
		return err
	}
	if next <= r.LastSeq {
		v.hole(hole{from: next, to: r.LastSeq, seal: len(v.metas) - 1, tail: true})
	}
	return ctx.Err()
}

// signature checks that ev is signed by a trusted signer allowed its
// subject; unsigned events before the first signed one predate signing.
func (v *verifier) signature(ev events.Event) {
	r := v.r
	if ev.Signer == "" && ev.Signature == "" {
		switch {
		case r.SignedFrom == 0:
			r.UnsignedBeforeSigning++
		case len(v.opts.Trust) > 0:
			v.problem(ev.Seq, 0, "unsigned", fmt.Sprintf("%s %s (actor %q) is not signed, though the log is signed from %d on: it did not come from a wake writer", ev.Type, ev.Ref, ev.Actor, r.SignedFrom))
		}
		return
	}
	if len(v.opts.Trust) == 0 {
		r.SignedEvents++
		if r.SignedFrom == 0 {
			r.SignedFrom = ev.Seq
		}
		return
	}
	signer, ok := v.opts.Trust[ev.Signer]
	switch {
	case !ok:
		v.problem(ev.Seq, 0, "untrusted", fmt.Sprintf("%s %s (actor %q) is signed by %s, which is not a trusted signer", ev.Type, ev.Ref, ev.Actor, ev.Signer))
	case events.VerifySignature(ev, v.keys[ev.Signer]) != nil:
		v.problem(ev.Seq, 0, "forged", fmt.Sprintf("%s %s (actor %q): its signature by %s (%s) does not match the event", ev.Type, ev.Ref, ev.Actor, signer.Name, ev.Signer))
	case !signer.allows(ev.Ref.Subject()):
		v.problem(ev.Seq, 0, "untrusted", fmt.Sprintf("%s %s: %s (%s) may not sign events of this subject", ev.Type, ev.Ref, signer.Name, ev.Signer))
	default:
		r.SignedEvents++
		if r.SignedFrom == 0 {
			r.SignedFrom = ev.Seq
		}
	}
}

// classify explains each hole by a removal record or the retention in
// force, or reports it.
func (v *verifier) classify() {
	// The sequences where the explanation of a head sequence can change:
	// a seal's anchor.First (past it, that seal saw the sequence gone) and
	// anchor.Last+1 (past it, the sequence was stored after that seal).
	var breaks []uint64
	for _, m := range v.metas {
		if m.anchor != nil {
			breaks = append(breaks, m.anchor.First, m.anchor.Last+1)
		}
	}
	for seq := range v.removals {
		breaks = append(breaks, seq, seq+1)
	}
	breaks = append(breaks, v.r.FirstSeq)
	slices.Sort(breaks)
	breaks = slices.Compact(breaks)

	var last *Problem
	for _, h := range v.holes {
		for from := h.from; from <= h.to; {
			to := h.to
			if i := sort.Search(len(breaks), func(i int) bool { return breaks[i] > from }); i < len(breaks) && breaks[i] <= to {
				to = breaks[i] - 1
			}
			kind, detail := v.explain(from, h)
			switch {
			case kind == "":
			case kind == "retention":
				v.r.Discarded += int(to - from + 1)
			case last != nil && last.Kind == kind && last.Detail == detail && max(last.Seq, last.Through)+1 == from:
				last.Through = to
			default:
				v.problem(from, to, kind, detail)
				last = &v.r.Problems[len(v.r.Problems)-1]
			}
			if to == h.to {
				break
			}
			from = to + 1
		}
	}
}

// explain says why seq, in hole h, is missing: "" (an operator removed
// it), "retention", or a problem's kind and detail.
func (v *verifier) explain(seq uint64, h hole) (kind, detail string) {
	if v.removals[seq] != nil {
		return "", ""
	}
	switch {
	case seq >= v.r.FirstSeq:
		what := "sealed event is missing from the middle of the log"
		if h.tail {
			what = "event after the last seal is missing from the middle of the log"
		}
		return "removed", what + " (retention only discards the oldest events)"
	case !h.sealed && !h.tail && v.metas[h.seal].anchor != nil && seq >= v.metas[h.seal].anchor.First:
		return "removed", fmt.Sprintf("removed from the middle of the log before seal %d (retention only discards the oldest events)", v.metas[h.seal].seq)
	}
	// Missing at the head: which limits were in force from the seal before
	// the one that met it until the first seal that found it gone (or now)?
	var limits []Retention
	now := true
	for k := max(h.seal-1, 0); k < len(v.metas) && h.seal >= 0; k++ {
		a := v.metas[k].anchor
		if a == nil {
			continue
		}
		limits = append(limits, a.Retention)
		if k >= h.seal && a.First > seq {
			now = false
			break
		}
	}
	if now {
		limits = append(limits, v.current)
	}
	var minAge time.Duration
	for _, l := range limits {
		if l.MaxBytes > 0 || l.MaxMsgs > 0 || l.MaxMsgsPerSubject > 0 {
			return "retention", ""
		}
		if l.MaxAge > 0 && (minAge == 0 || l.MaxAge < minAge) {
			minAge = l.MaxAge
		}
	}
	if minAge == 0 {
		return "purged", "missing from the head of the log, and no retention limit was in force since it was stored (none recorded by the seals, " + v.current.String() + " now): a purge, or a limit set and lifted again"
	}
	// It was stored after every seal whose anchor ends before it, and
	// after the first retained event of every seal that found it retained.
	var stored time.Time
	for _, m := range v.metas {
		switch a := m.anchor; {
		case a == nil:
		case a.Last < seq && m.time.After(stored):
			stored = m.time
		case a.First <= seq && a.FirstTime.After(stored):
			stored = a.FirstTime
		}
	}
	if stored.IsZero() || !stored.Add(minAge).After(v.opts.Now().Add(clockSkew)) {
		return "retention", ""
	}
	return "purged", fmt.Sprintf("missing from the head of the log, but stored less than the max age in force (%s) ago, as the seals show: a purge, or a limit set and lifted again", minAge)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var errStop = errors.New("stop")
