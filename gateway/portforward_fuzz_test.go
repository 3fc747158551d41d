package gateway

import (
	"strconv"
	"testing"
)

// parsePort takes a stream's port header, from the client: it accepts
// exactly 1 to 5 decimal digits naming 1..65535, nothing else.
func FuzzPortForwardPort(f *testing.F) {
	for _, s := range []string{"80", "0", "65535", "65536", "00080", "+80", "-1", " 80", "8080 ", "0x50", "", "999999", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parsePort(s)
		want, werr := strconv.ParseUint(s, 10, 16)
		ok := werr == nil && want > 0 && len(s) <= 5
		if (err == nil) != ok || (ok && n != int(want)) {
			t.Errorf("parsePort(%q) = %d, %v; want ok=%v %d", s, n, err, ok, want)
		}
	})
}
