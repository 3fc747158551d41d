package events

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// The log's format version lives in the stream's metadata, so that every
// process that opens the log learns, before it reads or writes one event,
// whether it understands what is there. Two numbers, as SQLite keeps a
// read and a write version:
//
//   - wake.io/log-version: the newest format any wake has written into this
//     log (it only ever rises);
//   - wake.io/log-min-reader: the oldest format a wake must understand to
//     read and append to this log safely.
//
// A wake whose LogVersion is below the log's min-reader refuses to run
// (ErrLogTooNew). A newer, compatible log (its log-version above ours, its
// min-reader not) is used as it is and never stamped down. An older log,
// or one written before this check existed (no metadata: format 1), is
// adopted: its metadata is raised to ours with a stream update, never by
// recreating the stream.
const (
	// LogVersion is the format this wake writes: event types, envelope,
	// subject grammar, snapshot encoding. Raise it with any change to them.
	LogVersion = 1
	// MinReaderVersion is the oldest format whose readers understand what
	// this wake writes: raise it to LogVersion only when older wakes would
	// misread the new events (a new event type they would skip is fine
	// while ErrUnknownType is skipped; a changed meaning is not).
	MinReaderVersion = 1

	MetadataLogVersion = "wake.io/log-version"
	MetadataMinReader  = "wake.io/log-min-reader"
)

// ErrLogTooNew is what Open returns for a log written by a newer,
// incompatible wake.
var ErrLogTooNew = errors.New("the log was written by a newer, incompatible wake")

// logVersions reads a stream's metadata: (1, 1) when it has none.
func logVersions(meta map[string]string) (version, minReader int, err error) {
	version, minReader = 1, 0
	if v, ok := meta[MetadataLogVersion]; ok {
		if version, err = strconv.Atoi(v); err != nil || version < 1 {
			return 0, 0, fmt.Errorf("metadata %s=%q is not a format version; was the stream written by wake?", MetadataLogVersion, v)
		}
	}
	if v, ok := meta[MetadataMinReader]; ok {
		if minReader, err = strconv.Atoi(v); err != nil || minReader < 1 {
			return 0, 0, fmt.Errorf("metadata %s=%q is not a format version; was the stream written by wake?", MetadataMinReader, v)
		}
	}
	if minReader == 0 {
		minReader = version
	}
	return version, minReader, nil
}

// checkLogVersion refuses a log that this wake cannot read or write.
func checkLogVersion(meta map[string]string) error {
	version, minReader, err := logVersions(meta)
	if err != nil {
		return err
	}
	if minReader > LogVersion {
		return fmt.Errorf("events: stream %s: %w: log format %d, readable by wake with format %d or later; this wake has format %d (upgrade wake to run against this log)",
			StreamName, ErrLogTooNew, version, minReader, LogVersion)
	}
	return nil
}

// versionMetadata is the metadata a new stream gets.
func versionMetadata() map[string]string {
	return map[string]string{MetadataLogVersion: strconv.Itoa(LogVersion), MetadataMinReader: strconv.Itoa(MinReaderVersion)}
}

// stampLogVersion raises an older log's version metadata to this wake's
// (an update of the stream's metadata, nothing else); a log at or above
// this wake's version is left as it is.
func stampLogVersion(ctx context.Context, js jetstream.JetStream, s jetstream.Stream) (jetstream.Stream, error) {
	cfg := s.CachedInfo().Config
	version, minReader, err := logVersions(cfg.Metadata)
	if err != nil {
		return nil, err
	}
	if version >= LogVersion && cfg.Metadata[MetadataLogVersion] != "" && cfg.Metadata[MetadataMinReader] != "" {
		return s, nil
	}
	meta := maps.Clone(cfg.Metadata)
	if meta == nil {
		meta = map[string]string{}
	}
	meta[MetadataLogVersion] = strconv.Itoa(max(version, LogVersion))
	meta[MetadataMinReader] = strconv.Itoa(max(minReader, MinReaderVersion))
	cfg.Metadata = meta
	s, err = js.UpdateStream(ctx, cfg)
	if err != nil {
		return nil, wrapNATS("record the log version on stream "+StreamName, err)
	}
	return s, nil
}

// checkAndAdopt adopts an existing stream once its format version says
// this wake may, then records this wake's version on it.
func checkAndAdopt(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, want jetstream.StreamConfig, cfg Config) (jetstream.Stream, error) {
	if err := checkLogVersion(s.CachedInfo().Config.Metadata); err != nil {
		return nil, err
	}
	s, err := adopt(ctx, js, s, want, cfg)
	if err != nil {
		return nil, err
	}
	return stampLogVersion(ctx, js, s)
}
