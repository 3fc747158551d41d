package logscan

import (
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wakehq/wake/events"
)

// Msg is one stored message of the log.
type Msg struct {
	Subject string
	Seq     uint64
	Time    time.Time // when the stream stored it
	Header  nats.Header
	Data    []byte
}

// Decode reads the event m holds (see events.Decode); its error is an
// *events.DecodeError.
func (m Msg) Decode() (events.Event, error) {
	var d events.Decoder
	return m.DecodeWith(&d)
}

// DecodeWith is Decode with a decoder kept across messages (see
// events.Decoder), for loops over many.
func (m Msg) DecodeWith(d *events.Decoder) (events.Event, error) {
	ev, err := d.Decode(m.Subject, m.Header, m.Data, m.Seq)
	if err != nil {
		return events.Event{}, &events.DecodeError{Seq: m.Seq, Subject: m.Subject, Err: err, Header: m.Header, Data: m.Data}
	}
	return ev, nil
}

// Chunking sets how long reads are split (chunk sequences per read, reads
// of at least parallel sequences over two connections) and returns a
// function that restores the defaults. For tests that check that every
// way of reading gives the same result; not safe while reads run.
func Chunking(chunk, parallel uint64) (restore func()) {
	c, p := chunkSeqs, parallelMin
	chunkSeqs, parallelMin = chunk, parallel
	return func() { chunkSeqs, parallelMin = c, p }
}
