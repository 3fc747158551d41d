package logscan

import "testing"

func TestAckMeta(t *testing.T) {
	for _, c := range []struct {
		reply string
		seq   uint64
		ok    bool
	}{
		{"$JS.ACK.WAKE.c.1.42.7.1700000000000000000.3", 42, true},
		{"$JS.ACK.dom.acc.WAKE.c.1.43.7.1700000000000000000.3.tok", 43, true},
		{"$JS.ACK.dom.acc.WAKE.c.1.44.7.1700000000000000000.3.tok.more", 44, true},
		{"$JS.ACK.dom.acc.WAKE.c.1.44.7.1700000000000000000.3", 44, true},
		{"$JS.ACK.WAKE.c.1.42.7.1700000000000000000", 0, false},
		{"_INBOX.x", 0, false},
		{"$JS.ACK.WAKE.c.1.x.7.1700000000000000000.3", 0, false},
	} {
		seq, dseq, ts, pending, err := ackMeta(c.reply)
		if (err == nil) != c.ok || seq != c.seq {
			t.Errorf("%s: seq %d, err %v", c.reply, seq, err)
		}
		if c.ok && (dseq != 7 || pending != 3 || ts.UnixNano() != 1700000000000000000) {
			t.Errorf("%s: %d %d %v", c.reply, dseq, pending, ts)
		}
	}
}
