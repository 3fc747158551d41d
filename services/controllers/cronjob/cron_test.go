package cronjob

import (
	"testing"
	"time"
)

func TestParseNext(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		spec string
		loc  *time.Location
		from string
		want []string // successive activations
	}{
		{"*/15 * * * *", time.UTC, "2026-03-01T10:07:30Z", []string{"2026-03-01T10:15:00Z", "2026-03-01T10:30:00Z", "2026-03-01T10:45:00Z", "2026-03-01T11:00:00Z"}},
		{"0 9 * * mon-fri", time.UTC, "2026-03-06T09:00:00Z", []string{"2026-03-09T09:00:00Z", "2026-03-10T09:00:00Z"}},
		{"0 0 1,15 * *", time.UTC, "2026-01-20T00:00:00Z", []string{"2026-02-01T00:00:00Z", "2026-02-15T00:00:00Z", "2026-03-01T00:00:00Z"}},
		{"0 0 29 2 *", time.UTC, "2026-01-01T00:00:00Z", []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		// day of month and day of week both restricted: either matches.
		{"0 0 13 * 5", time.UTC, "2026-03-01T00:00:00Z", []string{"2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z"}},
		{"5-10/5 1 * JAN,jul ?", time.UTC, "2026-01-31T01:07:00Z", []string{"2026-01-31T01:10:00Z", "2026-07-01T01:05:00Z"}},
		{"@hourly", time.UTC, "2026-03-01T10:00:00Z", []string{"2026-03-01T11:00:00Z", "2026-03-01T12:00:00Z"}},
		{"@daily", time.UTC, "2026-03-01T10:00:00Z", []string{"2026-03-02T00:00:00Z"}},
		{"@weekly", time.UTC, "2026-03-02T10:00:00Z", []string{"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z"}},
		{"@monthly", time.UTC, "2026-03-02T10:00:00Z", []string{"2026-04-01T00:00:00Z"}},
		{"@yearly", time.UTC, "2026-03-02T10:00:00Z", []string{"2027-01-01T00:00:00Z"}},
		{"@every 90m", time.UTC, "2026-03-01T10:00:00.5Z", []string{"2026-03-01T11:30:00Z", "2026-03-01T13:00:00Z"}},
		{"0 9 * * *", tokyo, "2026-03-01T00:00:00Z", []string{"2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"}},
		// Spring forward: 02:30 does not exist on 8 March in New York.
		{"30 2 * * *", ny, "2026-03-07T08:00:00Z", []string{"2026-03-09T06:30:00Z"}},
		{"0 12 * * *", ny, "2026-03-07T18:00:00Z", []string{"2026-03-08T16:00:00Z", "2026-03-09T16:00:00Z"}},
		// Fall back: 01:30 happens twice on 1 November; upstream (robfig) fires at both.
		{"30 1 * * *", ny, "2026-10-31T06:00:00Z", []string{"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"}},
		{"0 0 30 2 *", time.UTC, "2026-01-01T00:00:00Z", []string{"0001-01-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		s, err := Parse(tt.spec, tt.loc)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.spec, err)
			continue
		}
		at := utc(tt.from)
		for _, w := range tt.want {
			at = s.Next(at)
			if want := utc(w); !at.Equal(want) {
				t.Errorf("%q in %s: got %s, want %s", tt.spec, tt.loc, at.UTC().Format(time.RFC3339), w)
				break
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, spec := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7", "1-2-3 * * * *", "*/0 * * * *", "5-1 * * * *", "@fortnightly", "@every x", "a * * * *"} {
		if _, err := Parse(spec, time.UTC); err == nil {
			t.Errorf("Parse(%q) accepted", spec)
		}
	}
}

func TestMostRecent(t *testing.T) {
	s, _ := Parse("* * * * *", time.UTC)
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		after     time.Duration
		want      time.Duration
		missed    int
		estimated bool
	}{
		{after: 30 * time.Second},
		{after: 60 * time.Second, want: time.Minute, missed: 1},
		{after: 150 * time.Second, want: 2 * time.Minute, missed: 2},
		{after: 100 * time.Minute, want: 100 * time.Minute, missed: 100},
		{after: 30*24*time.Hour + 30*time.Second, want: 30 * 24 * time.Hour, missed: 30 * 24 * 60, estimated: true},
	} {
		got, n := mostRecent(s, from, from.Add(tt.after))
		switch {
		case tt.want == 0 && got != nil:
			t.Errorf("after %s: %s, want none", tt.after, got)
		case tt.want != 0 && (got == nil || !got.Equal(from.Add(tt.want))):
			t.Errorf("after %s: %v, want %s", tt.after, got, from.Add(tt.want))
		case !tt.estimated && n != tt.missed, tt.estimated && n <= maxMissed:
			t.Errorf("after %s: %d missed, want %d", tt.after, n, tt.missed)
		}
	}
}
