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
	return VerifyWith(ctx, files, pub, Options{})
}

// Options are what a verification may add to the files themselves.
type Options struct {
	// Range: only the files whose lines overlap it are checked. The file
	// just before the range is read too, unreported, for the chain the
	// first file in range starts from; the files after it are read for
	// their delete records only (not checked), since a delete that
	// rewrote a file in range is recorded later.
	Range Range
	// Witness, if set, is held against the files (docs/integrity.md
	// "Witness"): its checkpoints of WitnessHost, or when that is "" of
	// the host of the files' checkpoints.
	Witness     *Witness
	WitnessHost string
}

// VerifyWith is Verify with opts.
func VerifyWith(ctx context.Context, files Files, pub ed25519.PublicKey, opts Options) (Report, error) {
	r := opts.Range
	v := &verifier{pub: pub, files: files, deletes: map[string]deleteRecord{}, startAssumed: true,
		cps: map[uint64][]fileCP{}, srcReport: map[int]int{}, srcSeqs: map[int][2]uint64{}}
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
	unreported := 0 // reports of the file before the range, dropped
	if lo+1 < files.Len() {
		if err := v.file(lo + 1); err != nil {
			return Report{}, fmt.Errorf("%s: %w", files.Info(lo+1).Name, err)
		}
		unreported = len(v.reports)
	}
	var checked []int // oldest first
	for i := lo; i >= hi; i-- {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		if err := v.file(i); err != nil {
			return Report{}, fmt.Errorf("%s: %w", files.Info(i).Name, err)
		}
		checked = append(checked, i)
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
	var wr *WitnessReport
	if opts.Witness != nil {
		host := opts.WitnessHost
		if host == "" {
			host = v.cpHost
		}
		if hosts := opts.Witness.Hosts(); host == "" && len(hosts) == 1 {
			host = hosts[0] // the files hold no checkpoint to tell: the witness's only host
		}
		wr = v.holdAgainst(opts.Witness, host, checked, hi == 0)
	}
	rep := Report{Intact: true, Files: v.reports[unreported:], Since: timeText(r.Since), Before: timeText(r.Before), Witness: wr}
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
