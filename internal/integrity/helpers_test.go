package integrity_test

import (
	"context"
	"crypto/ed25519"

	"github.com/trailcar/trailcar/internal/integrity"
	"github.com/trailcar/trailcar/internal/store"
)

// verifyDir verifies the files of dir as trailcar verify --dir does:
// through a snapshot of the store, the one reader of the trail.
func verifyDir(dir string, pub ed25519.PublicKey) (integrity.Report, error) {
	sn, err := store.New(store.Options{Dir: dir}).Snapshot()
	if err != nil {
		return integrity.Report{}, err
	}
	defer sn.Close()
	return integrity.Verify(context.Background(), sn, pub)
}

// recoverDir finds where the chain of dir stands, as the sidecar does on
// start.
func recoverDir(dir string) (integrity.State, error) {
	sn, err := store.New(store.Options{Dir: dir}).Snapshot()
	if err != nil {
		return integrity.State{}, err
	}
	defer sn.Close()
	return integrity.Recover(sn)
}
