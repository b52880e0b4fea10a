package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestLineReaders checks both readers against a plain split, on lines
// shorter and longer than the blocks, with and without a torn tail, and
// with an overlong line that must be skipped.
func TestLineReaders(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var lines []string
	for i := 0; i < 3000; i++ {
		n := rnd.IntN(300)
		switch i % 500 {
		case 7:
			n = 200 << 10 // longer than the first blocks
		case 11:
			n = 0 // an empty line
		}
		lines = append(lines, fmt.Sprintf("%d:%s", i, strings.Repeat("x", n)))
	}
	// Lines are bounded to maxLineLen give or take a block.
	overlong := strings.Repeat("y", maxLineLen+2*maxBlock)
	tests := []struct {
		name    string
		content string
		want    []string
		skipped int
	}{
		{"lines", strings.Join(lines, "\n") + "\n", lines, 0},
		{"torn tail", strings.Join(lines, "\n") + "\n" + "partial", lines, 0},
		{"no newline at all", "partial", nil, 0},
		{"empty", "", nil, 0},
		{"overlong line", "a\n" + overlong + "\nb\n", []string{"a", "b"}, 1},
		{"overlong first", overlong + "\nb\n", []string{"b"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := strings.NewReader(tt.content)
			size := int64(len(tt.content))
			back := newBackLines(r, size)
			var got []string
			for {
				line, off, ok, err := back.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				if !bytes.Equal([]byte(tt.content[off:off+int64(len(line))]), line) {
					t.Fatalf("offset %d does not hold the line", off)
				}
				got = append(got, string(line))
			}
			checkLines(t, "backwards", got, tt.want, true)
			if back.Overlong != tt.skipped {
				t.Errorf("backwards skipped %d, want %d", back.Overlong, tt.skipped)
			}
			fwd := newFwdLines(r, 0, size)
			got = got[:0]
			for {
				line, off, ok, err := fwd.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				if tt.content[off:off+int64(len(line))] != string(line) {
					t.Fatalf("offset %d does not hold the line", off)
				}
				got = append(got, string(line))
			}
			checkLines(t, "forwards", got, tt.want, false)
			if fwd.Overlong != tt.skipped {
				t.Errorf("forwards skipped %d, want %d", fwd.Overlong, tt.skipped)
			}
			// Chunks, newest first, each of whole lines.
			var chunks []string
			overlong, err := readChunks(context.Background(), r, size, func(data []byte) error {
				if len(data) == 0 || data[len(data)-1] != '\n' {
					t.Fatalf("chunk does not end a line: %.20q", data)
				}
				chunks = append(chunks, string(data))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var all string
			for i := len(chunks) - 1; i >= 0; i-- {
				all += chunks[i]
			}
			got = strings.Split(strings.TrimSuffix(all, "\n"), "\n")
			if all == "" {
				got = nil
			}
			checkLines(t, "chunks", got, tt.want, false)
			if overlong != tt.skipped {
				t.Errorf("chunks skipped %d, want %d", overlong, tt.skipped)
			}
		})
	}
}

func checkLines(t *testing.T, how string, got, want []string, reversed bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d lines, want %d", how, len(got), len(want))
	}
	for i := range got {
		w := want[i]
		if reversed {
			w = want[len(want)-1-i]
		}
		if got[i] != w {
			t.Fatalf("%s: line %d is %.20q, want %.20q", how, i, got[i], w)
		}
	}
}

func TestSeekTime(t *testing.T) {
	var b strings.Builder
	var starts []int
	for i := 0; i < 20000; i++ {
		starts = append(starts, b.Len())
		fmt.Fprintf(&b, `{"id":"%032x","eventTime":"2026-11-22T08:%02d:%02d.%06dZ","pad":"%s"}`+"\n",
			i, i/3600%60, i/60%60, i%60*1000, strings.Repeat("p", i%100))
	}
	content := b.String()
	r := strings.NewReader(content)
	for _, target := range []int{0, 1, 5000, 12345, 19999, 20000} {
		t.Run(fmt.Sprint(target), func(t *testing.T) {
			at := fmt.Sprintf("2026-11-22T08:%02d:%02d.%06dZ", target/3600%60, target/60%60, target%60*1000)
			lo, hi, err := seekTime(r, int64(len(content)), func(tm []byte) bool { return string(tm) >= at })
			if err != nil {
				t.Fatal(err)
			}
			want := int64(len(content))
			if target < len(starts) {
				want = int64(starts[target])
			}
			if lo > want || hi < want || hi-lo > seekWindow+4096 {
				t.Fatalf("lo %d hi %d, want around %d", lo, hi, want)
			}
		})
	}
}
