package history

import (
	"context"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/projections"
	"github.com/wakehq/wake/projections/logscan"
)

// rawMsg is one stored message, as consumers and direct gets return it.
type rawMsg = logscan.Msg

// errStop ends a read early without an error.
var errStop = logscan.ErrStop

// consume is logscan.Consume.
func consume(ctx context.Context, log *events.Log, filter string, from, to uint64, headersOnly bool, fn func(rawMsg) error) error {
	return logscan.Consume(ctx, log, filter, from, to, headersOnly, fn)
}

// scanPrepared is Scan for a fold, on every core (logscan.Prepared); a
// message that does not decode reaches apply to be quarantined.
func scanPrepared(ctx context.Context, log *events.Log, filter string, from, to uint64, apply func(projections.Prepared) error) error {
	return logscan.Prepared(ctx, log, filter, from, to, projections.PrepareDecoded, projections.PrepareUndecodable, apply)
}
