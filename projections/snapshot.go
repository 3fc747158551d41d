package projections

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/wakehq/wake/events"
)

// SnapshotFormat names the snapshot encoding. A reader refuses any other, so
// an old wake never misreads a newer snapshot; it replays the log instead.
//
// v2 adds the quarantined messages (after the objects, one line each,
// counted in the header). A state that has quarantined nothing is still
// written as v1, which every wake reads, and v1 snapshots load as a state
// with nothing quarantined.
const (
	SnapshotFormat   = SnapshotFormatV2
	SnapshotFormatV1 = "wake.snapshot.v1"
	SnapshotFormatV2 = "wake.snapshot.v2"
)

type snapshotHeader struct {
	Format      string `json:"format"`
	Seq         uint64 `json:"seq"`
	Objects     int    `json:"objects"`
	Quarantined int    `json:"quarantined,omitempty"`
}

type snapshotLine struct {
	Subject string          `json:"subject"`
	Seq     uint64          `json:"seq"`
	Object  json.RawMessage `json:"object"`
}

// WriteSnapshot writes the state as JSON lines: a header, then every object in
// subject order, then the quarantined messages by sequence. Equal states give
// equal bytes.
func (s *State) WriteSnapshot(w io.Writer) error {
	return writeSnapshot(w, s.seq, s.all(), s.Quarantined())
}

// writeSnapshot writes objects (in subject order) and quarantined messages
// as the state at seq. Both are immutable, so a caller may collect them
// under a lock and write without.
func writeSnapshot(w io.Writer, seq uint64, objs []*Object, quarantined []Quarantined) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	h := snapshotHeader{Format: SnapshotFormatV1, Seq: seq, Objects: len(objs)}
	if len(quarantined) > 0 {
		h.Format, h.Quarantined = SnapshotFormatV2, len(quarantined)
	}
	if err := enc.Encode(h); err != nil {
		return err
	}
	for _, o := range objs {
		if err := enc.Encode(snapshotLine{Subject: o.Ref.Subject(), Seq: o.Seq, Object: o.Raw}); err != nil {
			return err
		}
	}
	for _, q := range quarantined {
		if err := enc.Encode(q); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadSnapshot rebuilds a state from WriteSnapshot's output.
func ReadSnapshot(r io.Reader) (*State, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("snapshot header: %w", err)
	}
	if h.Format != SnapshotFormatV1 && h.Format != SnapshotFormatV2 || h.Format == SnapshotFormatV1 && h.Quarantined != 0 {
		return nil, fmt.Errorf("snapshot format %q is not %q or %q", h.Format, SnapshotFormatV1, SnapshotFormatV2)
	}
	s := NewState()
	for i := 0; i < h.Objects; i++ {
		var l snapshotLine
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("snapshot object %d: %w", i, err)
		}
		ref, err := events.ParseSubject(l.Subject)
		if err != nil {
			return nil, fmt.Errorf("snapshot object %d: %w", i, err)
		}
		var m struct {
			Metadata struct {
				UID    string            `json:"uid"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(l.Object, &m); err != nil {
			return nil, fmt.Errorf("snapshot object %s: %w", ref, err)
		}
		obj := &Object{Ref: ref, Seq: l.Seq, Raw: l.Object, UID: m.Metadata.UID, Labels: m.Metadata.Labels}
		s.put(resourceKey{ref.Group, ref.Resource}, objectKey{ref.Namespace, ref.Name}, obj)
	}
	for i := 0; i < h.Quarantined; i++ {
		var q Quarantined
		if err := dec.Decode(&q); err != nil {
			return nil, fmt.Errorf("snapshot quarantined message %d: %w", i, err)
		}
		if q.Seq > h.Seq || len(s.quarantined) > 0 && q.Seq <= s.quarantined[len(s.quarantined)-1].Seq {
			return nil, fmt.Errorf("snapshot quarantined message %d: sequence %d out of order", i, q.Seq)
		}
		s.quarantined = append(s.quarantined, q)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("snapshot has data after its %d objects and %d quarantined messages", h.Objects, h.Quarantined)
	}
	s.seq = h.Seq
	return s, nil
}
