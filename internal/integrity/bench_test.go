package integrity_test

import (
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trailcar/trailcar/internal/audit"
	"github.com/trailcar/trailcar/internal/event"
	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/metrics"
	"github.com/trailcar/trailcar/rotate"
)

// BenchmarkVerify: verify over a sealed trail written by the real writer
// in 2 MiB files (the default), checkpoints every 1,000 lines or so,
// signed; plain and gzip. The size is $TRAILCAR_VERIFY_MB MiB (default
// 128; the number in docs/integrity.md "Cost" is from 1024). MB/s is what to read.
func BenchmarkVerify(b *testing.B) {
	mb := 128
	if s := os.Getenv("TRAILCAR_VERIFY_MB"); s != "" {
		mb, _ = strconv.Atoi(s)
	}
	key := newKey(b)
	pub := key.Public().(ed25519.PublicKey)
	for _, compress := range []bool{false, true} {
		b.Run(fmt.Sprintf("MiB=%d/gzip=%v", mb, compress), func(b *testing.B) {
			dir := b.TempDir()
			size := bulkTrail(b, dir, key, compress, int64(mb)<<20)
			b.SetBytes(size)
			b.ResetTimer()
			for range b.N {
				rep, err := verifyDir(dir, pub)
				if err != nil || !rep.Intact {
					b.Fatalf("%v %+v", err, rep.Files[0])
				}
			}
		})
	}
}

// bulkTrail writes about size bytes of sealed events (text, before any
// compression) and returns the bytes written.
func bulkTrail(b *testing.B, dir string, key ed25519.PrivateKey, compress bool, size int64) int64 {
	b.Helper()
	f, err := rotate.Open(rotate.Options{Dir: dir, Filename: "audit.log", MaxSizeMB: 2, Compress: compress})
	if err != nil {
		b.Fatal(err)
	}
	st, _ := recoverDir(dir)
	w := audit.New(audit.Options{File: f, Seal: integrity.NewSealer(st, key, "audit.log"), CheckpointEvery: 5 * time.Millisecond,
		Service: "console", Host: "h1", Metrics: metrics.Discard()})
	e := &event.Event{Type: event.TypeHTTP, Level: event.LevelInfo, Outcome: event.OutcomeSuccess,
		Action: "console.widgets.create", Creds: event.Creds{Name: "alice", Type: "user", UUID: "u-1"},
		Req: event.Request{Method: "POST", Path: "/api/v3/widgets/" + strings.Repeat("w", 120)},
		Res: event.Response{StatusCode: 201}, Message: "POST /api/v3/widgets 201"}
	var written int64
	for written < size {
		e.ID = ""
		if err := w.Emit(e); err != nil {
			b.Fatal(err)
		}
		written += 400 // about a line; the exact size is summed below
	}
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	f.Close()
	infos, _ := rotate.List(dir, "audit.log")
	var total int64
	for _, info := range infos {
		if !info.Compressed {
			total += info.Size
			continue
		}
		n, err := textSize(info)
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	return total
}

// textSize is a compressed file's text size.
func textSize(info rotate.Info) (int64, error) {
	f, err := os.Open(info.Path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0, err
	}
	return io.Copy(io.Discard, zr)
}
