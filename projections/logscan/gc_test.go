package logscan

import (
	"runtime/debug"
	"testing"
)

func TestLongReadPercent(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 200},               // before the first collection
		{64 << 20, 200},        // a small heap may triple
		{256 << 20, 200},       // the raise is exactly the headroom
		{512 << 20, 150},       // goal 512 MiB * 2.5: 256 MiB over GOGC=100's
		{1 << 30, 125},         // 1 GiB * 2.25
		{100 << 30, 100},       // a huge heap keeps the default
		{(256 << 20) + 1, 199}, // rounds down: never over the headroom
		{(10 << 30) / 3, 107},  // still above 100 on the way down
		{1<<64 - 1, 100},       // no overflow
	} {
		if got := longReadPercent(c.live); got != c.want {
			t.Errorf("longReadPercent(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// gcPercent reads the collector's percent.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestLoosenGCRestores(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer func(v string) { operatorGOGC = v }(operatorGOGC)
	operatorGOGC = ""

	end1 := loosenGC()
	raised := gcPercent()
	if raised <= 100 || raised > longReadGCPercent {
		t.Fatalf("during a long read GOGC = %d, want in (100, %d]", raised, longReadGCPercent)
	}
	end2 := loosenGC() // a second read overlapping the first
	end1()
	end1() // ending twice is ending once
	if p := gcPercent(); p != raised {
		t.Fatalf("with a read still running GOGC = %d, want %d", p, raised)
	}
	end2()
	if p := gcPercent(); p != 100 {
		t.Fatalf("after the last read GOGC = %d, want 100 again", p)
	}
}

func TestLoosenGCLeavesOthersChoices(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer func(v string) { operatorGOGC = v }(operatorGOGC)

	for _, c := range []struct {
		name string
		env  string
		set  int
	}{
		{"GOGC in the environment", "100", 100},
		{"GOGC in the environment, not default", "400", 400},
		{"lowered in code", "", 50},
		{"collector off in code", "", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			operatorGOGC = c.env
			debug.SetGCPercent(c.set)
			end := loosenGC()
			paceGC()
			if p := gcPercent(); p != c.set {
				t.Errorf("during the read GOGC = %d, want %d left alone", p, c.set)
			}
			end()
			if p := gcPercent(); p != c.set {
				t.Errorf("after the read GOGC = %d, want %d", p, c.set)
			}
		})
	}
}
