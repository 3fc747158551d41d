package admission

import (
	"strings"
	"testing"
)

func TestParseCron(t *testing.T) {
	tests := []struct {
		spec string
		err  string // empty: valid
	}{
		{"* * * * *", ""},
		{"0 0 * * 0", ""},
		{"*/5 * * * *", ""},
		{"5/15 * * * *", ""},
		{"0-59/10 0-23 1-31 1-12 0-6", ""},
		{"0 12 * JAN-DEC sun,SAT", ""},
		{"0 0 ? * ?", ""},
		{"@yearly", ""},
		{"@annually", ""},
		{"@monthly", ""},
		{"@weekly", ""},
		{"@daily", ""},
		{"@midnight", ""},
		{"@hourly", ""},
		{"@every 90s", ""},
		{"", "empty spec string"},
		{"* * * *", "expected exactly 5 fields, found 4: [* * * *]"},
		{"* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"},
		{"60 * * * *", "end of range (60) above maximum (59): 60"},
		{"* 24 * * *", "end of range (24) above maximum (23): 24"},
		{"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
		{"* * * 13 *", "end of range (13) above maximum (12): 13"},
		{"* * * * 7", "end of range (7) above maximum (6): 7"},
		{"5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"},
		{"*/0 * * * *", "step of range should be a positive number: */0"},
		{"1-2-3 * * * *", "too many hyphens: 1-2-3"},
		{"*/2/3 * * * *", "too many slashes: */2/3"},
		{"x * * * *", "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax"},
		{"* * * FOO *", "failed to parse int from FOO"},
		{"@every", "unrecognized descriptor: @every"},
		{"@every soon", "failed to parse duration @every soon"},
		{"@reboot", "unrecognized descriptor: @reboot"},
	}
	for _, tt := range tests {
		err := parseCron(tt.spec)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("parseCron(%q) = %v, want valid", tt.spec, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseCron(%q) = %v, want %q", tt.spec, err, tt.err)
		}
	}
}
