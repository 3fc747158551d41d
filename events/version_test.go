package events_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
)

// olderStream creates stream WAKE as a wake without the version check
// did (no metadata, or the given one) and appends one event to it.
func olderStream(t *testing.T, js jetstream.JetStream, meta map[string]string) jetstream.Stream {
	t.Helper()
	s, err := js.CreateStream(t.Context(), jetstream.StreamConfig{
		Name: events.StreamName, Subjects: []string{events.AllSubjects}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxMsgSize: 4 << 20, AllowDirect: true, DenyDelete: true, Metadata: meta,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(t.Context(), events.Ref{Resource: "configmaps", Namespace: "default", Name: "old"}.Subject(), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLogVersion(t *testing.T) {
	v := strconv.Itoa(events.LogVersion)
	newer := strconv.Itoa(events.LogVersion + 1)
	for _, tc := range []struct {
		name     string
		existing map[string]string // nil: no stream yet
		noMeta   bool              // an older stream without metadata
		refuse   bool
		want     map[string]string // the metadata after Open
	}{
		{name: "new log", want: map[string]string{events.MetadataLogVersion: v, events.MetadataMinReader: v}},
		{name: "log from before the check", noMeta: true, want: map[string]string{events.MetadataLogVersion: v, events.MetadataMinReader: v}},
		{name: "same version", existing: map[string]string{events.MetadataLogVersion: v, events.MetadataMinReader: v},
			want: map[string]string{events.MetadataLogVersion: v, events.MetadataMinReader: v}},
		{name: "newer, still readable", existing: map[string]string{events.MetadataLogVersion: newer, events.MetadataMinReader: v},
			want: map[string]string{events.MetadataLogVersion: newer, events.MetadataMinReader: v}},
		{name: "newer, incompatible", existing: map[string]string{events.MetadataLogVersion: newer, events.MetadataMinReader: newer}, refuse: true,
			want: map[string]string{events.MetadataLogVersion: newer, events.MetadataMinReader: newer}},
		{name: "newer, only log-version (min reader = it)", existing: map[string]string{events.MetadataLogVersion: newer}, refuse: true,
			want: map[string]string{events.MetadataLogVersion: newer}},
		{name: "not a version", existing: map[string]string{events.MetadataLogVersion: "two"}, refuse: true,
			want: map[string]string{events.MetadataLogVersion: "two"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, nc := natstest.Start(t)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			var before *jetstream.StreamInfo
			if tc.existing != nil || tc.noMeta {
				before = olderStream(t, js, tc.existing).CachedInfo()
			}
			_, err = events.Open(t.Context(), nc, events.Config{KeepMaxAge: true, KeepMaxBytes: true})
			switch {
			case tc.refuse && err == nil:
				t.Fatal("Open accepted the log")
			case tc.refuse && tc.want[events.MetadataLogVersion] == newer && !errors.Is(err, events.ErrLogTooNew):
				t.Fatalf("Open: %v, want ErrLogTooNew", err)
			case tc.refuse && !strings.Contains(err.Error(), events.StreamName):
				t.Fatalf("error %q does not name the stream", err)
			case !tc.refuse && err != nil:
				t.Fatalf("Open: %v", err)
			}
			if tc.refuse {
				t.Logf("refused: %v", err)
			}
			s, err := js.Stream(t.Context(), events.StreamName)
			if err != nil {
				t.Fatal(err)
			}
			info := s.CachedInfo()
			for k, want := range tc.want {
				if got := info.Config.Metadata[k]; got != want {
					t.Errorf("metadata %s = %q, want %q (all: %v)", k, got, want, info.Config.Metadata)
				}
			}
			if before != nil {
				// Adopted or refused, never recreated: same creation
				// time, the older event still there.
				if !info.Created.Equal(before.Created) {
					t.Errorf("stream recreated: created %s, was %s", info.Created, before.Created)
				}
				if info.State.Msgs != 1 {
					t.Errorf("stream holds %d messages, want the older one", info.State.Msgs)
				}
			}
		})
	}
}
