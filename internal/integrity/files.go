package integrity

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"github.com/trailcar/trailcar/rotate"
)

// Files is the audit files of a log dir as they were at one moment, held
// open, newest first: a *store.Snapshot. The store is the one reader of
// the trail (how a file is opened, a rotation met, a compressed file
// followed); this package only reads what it hands out, and the store
// imports this one to re-seal what a delete rewrites.
type Files interface {
	// Len is how many files there are.
	Len() int
	// Info describes file i, once Text has opened it as it is (a plain
	// file compressed since it was listed is read as its .gz).
	Info(i int) rotate.Info
	// Text reads file i's lines from its start, decompressed; each call
	// reads anew. An error matching fs.ErrNotExist: the file was removed
	// (retention) before it could be opened, and is passed over.
	Text(i int) (io.ReadCloser, error)
}

// Verify checks the chain of the files, oldest first (docs/integrity.md
// "Verify"). Take the snapshot while the writer and deletes are held
// (the Sealer's lock) to verify a running trail: rotation, compression
// and retention may go on meanwhile without changing what is verified.
// pub, if set, checks every checkpoint's signature. The error is for
// files that could not be read (or ctx ending), not for tampering.
func Verify(ctx context.Context, files Files, pub ed25519.PublicKey) (Report, error) {
	return VerifyRange(ctx, files, pub, Range{})
}

// VerifyRange is Verify of the files whose lines overlap r only. The file
// just before the range is read too, unreported, for the chain the first
// file in range starts from; the files after it are read for their delete
// records only (not checked), since a delete that rewrote a file in range
// is recorded later.
func VerifyRange(ctx context.Context, files Files, pub ed25519.PublicKey, r Range) (Report, error) {
	v := &verifier{pub: pub, files: files, deletes: map[string]deleteRecord{}, startAssumed: true}
	lo, hi := files.Len()-1, 0
	if !r.IsZero() {
		var ok bool
		var err error
		if lo, hi, ok, err = inRange(files, r); err != nil {
			return Report{}, err
		} else if !ok {
			return Report{Intact: true, Files: []FileReport{}, Since: timeText(r.Since), Before: timeText(r.Before)}, nil
		}
	}
	context := 0 // reports of the file before the range, dropped
	if lo+1 < files.Len() {
		if err := v.file(lo + 1); err != nil {
			return Report{}, fmt.Errorf("%s: %w", files.Info(lo+1).Name, err)
		}
		context = len(v.reports)
	}
	for i := lo; i >= hi; i-- {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		if err := v.file(i); err != nil {
			return Report{}, fmt.Errorf("%s: %w", files.Info(i).Name, err)
		}
	}
	for i := hi - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		if err := v.scanDeletes(i); err != nil {
			return Report{}, fmt.Errorf("%s: %w", files.Info(i).Name, err)
		}
	}
	if err := v.resolve(); err != nil {
		return Report{}, err
	}
	rep := Report{Intact: true, Files: v.reports[context:], Since: timeText(r.Since), Before: timeText(r.Before)}
	if pub != nil {
		rep.KeyID = KeyID(pub)
	}
	for i := range rep.Files {
		if rep.Files[i].Tampered() {
			rep.Intact = false
		}
	}
	return rep, nil
}

// timeText is t as a report shows a range bound; "" when unset.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
