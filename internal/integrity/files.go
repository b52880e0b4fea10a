package integrity

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"

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
	v := &verifier{pub: pub, files: files, deletes: map[string]deleteRecord{}, startAssumed: true}
	for i := files.Len() - 1; i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		if err := v.file(i); err != nil {
			return Report{}, fmt.Errorf("%s: %w", files.Info(i).Name, err)
		}
	}
	if err := v.resolve(); err != nil {
		return Report{}, err
	}
	rep := Report{Intact: true, Files: v.reports}
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
