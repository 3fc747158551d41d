package exec

import "testing"

// A runner that lags behind resizes gets the newest size, never a stale
// one, and the session never blocks on it.
func TestLatestSize(t *testing.T) {
	ch := make(chan Size, 2)
	for i := range uint16(5) {
		latestSize(ch, Size{Width: 80 + i, Height: 24})
	}
	var got []Size
	for len(ch) > 0 {
		got = append(got, <-ch)
	}
	if len(got) != 2 || got[1] != (Size{Width: 84, Height: 24}) {
		t.Errorf("queued %v, want the last size last", got)
	}
}
