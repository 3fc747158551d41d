package logs

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShimFormatsSplitsAndRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "1.log")
	or, ow, _ := os.Pipe()
	er, ew, _ := os.Pipe()
	now := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	s := &Shim{Path: path, MaxBytes: 17 << 10, Now: func() time.Time { return now }}
	done := make(chan error)
	go func() { done <- s.Run(or, er) }()
	long := strings.Repeat("y", maxRecord+10)
	io.WriteString(ow, "hello\n"+long+"\n")
	io.WriteString(ew, "oops\n")
	io.WriteString(ow, strings.Repeat("z", 1<<10)+"\n") // past MaxBytes: one rotation
	ow.Close()
	ew.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(Rotated(path))
	if len(old) == 0 {
		t.Fatalf("no rotation at %d bytes (current %d bytes)", s.MaxBytes, len(cur))
	}
	got := string(Content(append(old, cur...)))
	for _, want := range []string{"hello\n", long + "\n", "oops\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("content lacks %.20q…", want)
		}
	}
	if !strings.Contains(string(old)+string(cur), "2025-01-02T03:04:05.000000006Z stdout P yyy") {
		t.Errorf("no partial record:\n%.300s", old)
	}
}

func TestChunkerLimit(t *testing.T) {
	var sent []string
	c := &chunker{max: 4, left: 6, send: func(b []byte) error { sent = append(sent, string(b)); return nil }}
	if err := c.write([]byte("abcde")); err != nil {
		t.Fatal(err)
	}
	if err := c.write([]byte("fgh")); err != errLimit {
		t.Fatalf("err = %v", err)
	}
	if strings.Join(sent, "|") != "abcd|ef" {
		t.Errorf("sent %q", sent)
	}
}
