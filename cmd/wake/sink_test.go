package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wakehq/wake/events"
	"github.com/wakehq/wake/events/natstest"
)

func TestSinkCommand(t *testing.T) {
	s, _ := natstest.Start(t)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := runSink(t.Context(), append(args, "--nats", s.ClientURL()), &out)
		return out.String(), err
	}
	if _, err := run("add", "hook", "--url", "http://127.0.0.1:9/x", "--resource", "deploy", "--type", "deleted"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("add", "bad", "--url", "not a url"); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Fatalf("bad url: %v", err)
	}
	out, err := run("ls")
	if err != nil || !strings.Contains(out, "deployments.apps") || !strings.Contains(out, string(events.ObjectDeleted)) {
		t.Fatalf("ls = %q, %v", out, err)
	}
	if _, err := run("rm", "hook"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("rm", "hook"); err == nil || !strings.Contains(err.Error(), "no sink") {
		t.Fatalf("rm twice: %v", err)
	}
}

func TestRetentionFlags(t *testing.T) {
	for _, tc := range []struct {
		f       retentionFlags
		want    events.Config
		wantErr bool
	}{
		{retentionFlags{}, events.Config{KeepMaxAge: true, KeepMaxBytes: true}, false},
		{retentionFlags{age: "90d"}, events.Config{MaxAge: 90 * 24 * time.Hour, KeepMaxBytes: true}, false},
		{retentionFlags{age: "720h", bytes: "1Ti"}, events.Config{MaxAge: 720 * time.Hour, MaxBytes: 1 << 40}, false},
		{retentionFlags{age: "forever", bytes: "unlimited"}, events.Config{}, false},
		{retentionFlags{age: "5m"}, events.Config{}, true},
		{retentionFlags{age: "soon"}, events.Config{}, true},
		{retentionFlags{bytes: "1Mi"}, events.Config{}, true},
	} {
		got, err := tc.f.config()
		if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
			t.Errorf("%+v: %+v, %v", tc.f, got, err)
		}
	}
	// A process not told a retention keeps the stream's.
	_, nc := natstest.Start(t)
	if _, err := events.Open(t.Context(), nc, events.Config{MaxAge: 48 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	l, err := events.Open(t.Context(), nc, events.Config{KeepMaxAge: true, KeepMaxBytes: true})
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := l.Stream().Info(t.Context()); info.Config.MaxAge != 48*time.Hour {
		t.Fatalf("MaxAge = %s after an Open that keeps it", info.Config.MaxAge)
	}
}
